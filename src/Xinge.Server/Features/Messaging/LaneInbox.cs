using System.Collections.Concurrent;

namespace Xinge.Server.Features.Messaging;

/// <summary>A message on its way out of a lane: what the connector needs to send it.</summary>
/// <param name="Retried">It was deferred before: some of its parts may already be with the SMSC.</param>
/// <param name="LeaseUntil">When this node's claim on it lapses (handed messages only; claimed ones are sent at once).</param>
public sealed record LaneMessage(long Id, int Priority, string Recipient, string Sender, string Text, int Encoding, int Attempts, bool Retried, long? ExpiresAt,
    long LeaseUntil = 0);

/// <summary>
/// The short way into a lane (ARCHITECTURE.md, the lanes). A message stored while its lane on this node has room is
/// claimed in its own insert (this node's lease) and handed to the lane in memory after the commit, instead of being
/// claimed back from the table a moment later: one statement and one write turn less per message. What is not handed
/// (a lane that is full or unbound, a big job beyond what the lane takes in memory, a lane on another node) waits in the table and is claimed
/// as before. The short way is open only while the lane's queue in the table is empty, so a handed message never
/// overtakes one already waiting there, and a stream of handed messages never starves the table; OTPs, first in
/// every lane, take it whenever the lane has room, so one does not wait for the next claim behind a draining job. A handed message is on disk under this node's lease like a claimed one: a crash or restart gives it
/// back, and one the lane could not send before its lease neared its end is forgotten here, so only the table's
/// lease decides who sends it.
/// </summary>
public sealed class LaneInbox(TimeProvider time)
{
    /// <summary>A handed message whose lease ends within this is not sent from memory: the table's claim takes over.</summary>
    private static readonly TimeSpan Margin = TimeSpan.FromSeconds(30);

    private sealed class Inbox
    {
        public volatile bool Open;
        /// <summary>The lane's last claim found its queue in the table empty, and nothing has been left there since.</summary>
        public volatile bool TableEmpty;
        public int Capacity;
        public int OtpReserve;
        /// <summary>Places promised to store batches not yet committed, plus messages waiting here.</summary>
        public int Taken;
        public readonly ConcurrentQueue<LaneMessage>[] ByPriority = [new(), new(), new()];
        public Action? Wake;
    }

    private readonly ConcurrentDictionary<string, Inbox> _inboxes = new();

    /// <summary>
    /// The lane takes handed messages, up to <paramref name="capacity"/> waiting at once, and OTPs
    /// <paramref name="otpReserve"/> more: a job that filled the lane does not push the next OTP into the table behind it.
    /// </summary>
    public void Open(string connector, int capacity, int otpReserve, Action wake)
    {
        var inbox = _inboxes.GetOrAdd(connector, _ => new Inbox());
        inbox.Capacity = capacity;
        inbox.OtpReserve = otpReserve;
        inbox.Wake = wake;
        inbox.Open = true;
    }

    /// <summary>The lane takes no more (unbound, stopping); what waits here stays until it is opened again or lapses.</summary>
    public void Close(string connector)
    {
        if (_inboxes.TryGetValue(connector, out var inbox)) inbox.Open = false;
    }

    /// <summary>The connector is gone: its waiting messages are forgotten here and go back to the table when their lease lapses.</summary>
    public void Remove(string connector) => _inboxes.TryRemove(connector, out _);

    /// <summary>A place in the lane for a message about to be stored; false when it should wait in the table instead.</summary>
    public bool TryPromise(string connector, int priority)
    {
        if (!_inboxes.TryGetValue(connector, out var inbox) || !inbox.Open || (!inbox.TableEmpty && priority > 0)) return false;
        if (Interlocked.Increment(ref inbox.Taken) <= inbox.Capacity + (priority == 0 ? inbox.OtpReserve : 0)) return true;
        Interlocked.Decrement(ref inbox.Taken);
        return false;
    }

    /// <summary>
    /// Places for a store batch's messages, in the batch's order: the ids that go straight to their lanes. Once a
    /// message is left in the table for its lane, the batch's later messages for that lane wait there behind it, except
    /// OTPs, which take a place whenever the lane has one.
    /// </summary>
    public HashSet<long> Promise(IEnumerable<(long Id, string? Lane, int Priority)> messages)
    {
        var handed = new HashSet<long>();
        HashSet<string>? left = null;
        foreach (var (id, lane, priority) in messages)
        {
            if (lane is null || (priority > 0 && left?.Contains(lane) == true)) continue;
            if (TryPromise(lane, priority)) handed.Add(id);
            else
            {
                LeftInTable(lane);
                (left ??= []).Add(lane);
            }
        }
        return handed;
    }

    /// <summary>What the lane's last claim found: its queue in the table empty (or not).</summary>
    public void Claimed(string connector, bool tableEmpty)
    {
        if (_inboxes.TryGetValue(connector, out var inbox)) inbox.TableEmpty = tableEmpty;
    }

    /// <summary>A message for the lane was left in the table: handed ones wait until the lane has claimed it.</summary>
    public void LeftInTable(string connector)
    {
        if (_inboxes.TryGetValue(connector, out var inbox)) inbox.TableEmpty = false;
    }

    /// <summary>A promised place not used: the store batch failed, or its request was refused.</summary>
    public void Unpromise(string connector)
    {
        if (_inboxes.TryGetValue(connector, out var inbox)) Interlocked.Decrement(ref inbox.Taken);
    }

    /// <summary>A promised message is committed: the lane sends it.</summary>
    public void Deliver(string connector, LaneMessage message)
    {
        if (!_inboxes.TryGetValue(connector, out var inbox)) return;
        inbox.ByPriority[Math.Clamp(message.Priority, 0, 2)].Enqueue(message);
        inbox.Wake?.Invoke();
    }

    /// <summary>The next handed message in priority order (OTP first), skipping any whose lease is about to lapse.</summary>
    public bool TryTake(string connector, out LaneMessage message)
    {
        message = null!;
        if (!_inboxes.TryGetValue(connector, out var inbox)) return false;
        var deadline = (time.GetUtcNow() + Margin).ToUnixTimeMilliseconds();
        foreach (var queue in inbox.ByPriority)
        {
            while (queue.TryDequeue(out var m))
            {
                Interlocked.Decrement(ref inbox.Taken);
                if (m.LeaseUntil < deadline) continue;
                message = m;
                return true;
            }
        }
        return false;
    }

    /// <summary>Messages waiting in the connector's inbox.</summary>
    public int Waiting(string connector)
    {
        if (!_inboxes.TryGetValue(connector, out var inbox)) return 0;
        var n = 0;
        foreach (var queue in inbox.ByPriority) n += queue.Count;
        return n;
    }
}
