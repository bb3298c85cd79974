using Microsoft.Extensions.Time.Testing;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Tests;

public sealed class LaneInboxTests
{
    /// <summary>An inbox whose lane is open and whose last claim found the table empty.</summary>
    private static LaneInbox Ready(TimeProvider time, int capacity = 10, Action? wake = null)
    {
        var inbox = new LaneInbox(time);
        inbox.Open("a", capacity, 0, wake ?? (() => { }));
        inbox.Claimed("a", tableEmpty: true);
        return inbox;
    }

    private static LaneMessage Message(long id, int priority, DateTimeOffset leaseUntil) =>
        new(id, priority, "8613800000000", "106900001", "text", 0, 0, false, null, leaseUntil.ToUnixTimeMilliseconds());

    [Fact]
    public void A_lane_takes_no_more_than_its_room_and_none_while_closed()
    {
        var inbox = new LaneInbox(new FakeTimeProvider());
        Assert.False(inbox.TryPromise("a", 1));
        inbox.Open("a", 2, 0, () => { });
        // Not before the lane's first claim has found its queue in the table empty.
        Assert.False(inbox.TryPromise("a", 1));
        inbox.Claimed("a", tableEmpty: true);
        Assert.True(inbox.TryPromise("a", 1));
        Assert.True(inbox.TryPromise("a", 1));
        Assert.False(inbox.TryPromise("a", 1));
        inbox.Unpromise("a");
        Assert.True(inbox.TryPromise("a", 1));
        inbox.Close("a");
        inbox.Unpromise("a");
        Assert.False(inbox.TryPromise("a", 1));
    }

    [Fact]
    public void Handed_messages_leave_otp_first_then_in_the_order_they_came()
    {
        var time = new FakeTimeProvider();
        var woken = 0;
        var inbox = Ready(time, wake: () => woken++);
        var lease = time.GetUtcNow().AddMinutes(2);
        foreach (var (id, priority) in new[] { (1L, 2), (2L, 1), (3L, 0), (4L, 1), (5L, 0) })
        {
            Assert.True(inbox.TryPromise("a", 1));
            inbox.Deliver("a", Message(id, priority, lease));
        }
        Assert.Equal(5, woken);
        var order = new List<long>();
        while (inbox.TryTake("a", out var m)) order.Add(m.Id);
        Assert.Equal([3L, 5, 2, 4, 1], order);
        // Every place is free again.
        for (var i = 0; i < 10; i++) Assert.True(inbox.TryPromise("a", 1));
    }

    [Fact]
    public void A_message_whose_lease_is_about_to_lapse_is_left_to_the_table()
    {
        var time = new FakeTimeProvider();
        var inbox = Ready(time);
        inbox.TryPromise("a", 1);
        inbox.Deliver("a", Message(1, 0, time.GetUtcNow().AddMinutes(2)));
        inbox.TryPromise("a", 1);
        inbox.Deliver("a", Message(2, 1, time.GetUtcNow().AddMinutes(3)));
        // The lane could not send for a minute and three quarters: the first message's lease ends within the margin.
        time.Advance(TimeSpan.FromSeconds(105));
        Assert.True(inbox.TryTake("a", out var m));
        Assert.Equal(2, m.Id);
        Assert.False(inbox.TryTake("a", out _));
        Assert.Equal(0, inbox.Waiting("a"));
    }

    [Fact]
    public void A_removed_connector_forgets_its_messages()
    {
        var time = new FakeTimeProvider();
        var inbox = Ready(time);
        inbox.TryPromise("a", 1);
        inbox.Deliver("a", Message(1, 0, time.GetUtcNow().AddMinutes(2)));
        inbox.Remove("a");
        Assert.False(inbox.TryTake("a", out _));
        Assert.False(inbox.TryPromise("a", 1));
    }

    [Fact]
    public void Nothing_is_handed_while_a_message_for_the_lane_waits_in_the_table()
    {
        var inbox = Ready(new FakeTimeProvider());
        Assert.True(inbox.TryPromise("a", 1));
        inbox.LeftInTable("a");
        Assert.False(inbox.TryPromise("a", 1));
        // A claim that took a full batch: more wait there.
        inbox.Claimed("a", tableEmpty: false);
        Assert.False(inbox.TryPromise("a", 1));
        inbox.Claimed("a", tableEmpty: true);
        Assert.True(inbox.TryPromise("a", 1));
    }

    [Fact]
    public void An_otp_is_handed_even_while_others_wait_in_the_table()
    {
        var inbox = Ready(new FakeTimeProvider(), capacity: 1);
        inbox.Claimed("a", tableEmpty: false);
        Assert.False(inbox.TryPromise("a", 2));
        Assert.True(inbox.TryPromise("a", 0));
        // Not beyond the lane's room.
        Assert.False(inbox.TryPromise("a", 0));
    }

    [Fact]
    public void In_a_store_batch_messages_after_one_left_in_the_table_wait_there_too_but_OTPs_still_take_a_place()
    {
        var time = new FakeTimeProvider();
        var inbox = Ready(time, capacity: 2);
        // Priorities: 0 OTP, 1 notification, 2 marketing. Lane "a" has two places; "b" is not open.
        var handed = inbox.Promise([(1, "a", 1), (2, "b", 1), (3, "a", 2), (4, "a", 1), (5, "a", 1), (6, null, 0), (7, "a", 0)]);
        // 1 and 3 take the two places; 4 finds none and is left in the table, so 5 waits behind it without asking.
        Assert.Equal([1L, 3L], handed.Order());
        // A place frees (the lane took a message): a notification still waits behind 4, an OTP takes it.
        inbox.Deliver("a", Message(1, 1, time.GetUtcNow().AddMinutes(2)));
        Assert.True(inbox.TryTake("a", out _));
        Assert.Equal([9L], inbox.Promise([(8, "a", 1), (9, "a", 0)]).Order());
    }

    [Fact]
    public void A_lane_filled_by_a_job_keeps_places_for_otps()
    {
        var inbox = new LaneInbox(new FakeTimeProvider());
        inbox.Open("a", 3, 2, () => { });
        inbox.Claimed("a", tableEmpty: true);
        var handed = inbox.Promise([(1, "a", 1), (2, "a", 2), (3, "a", 1), (4, "a", 1), (5, "a", 0), (6, "a", 0), (7, "a", 0)]);
        // Three places for anything, two more for OTPs only.
        Assert.Equal([1L, 2, 3, 5, 6], handed.Order());
    }
}
