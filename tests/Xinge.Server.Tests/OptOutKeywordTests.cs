using Xinge.Server.Features.Compliance;

namespace Xinge.Server.Tests;

public sealed class OptOutKeywordTests
{
    [Theory]
    [InlineData("T")]
    [InlineData("td")]
    [InlineData(" Ｔ ")]
    [InlineData("ＴＤ。")]
    [InlineData("r")]
    [InlineData("Stop!")]
    [InlineData("退订")]
    [InlineData("【退订】")]
    [InlineData("“unsubscribe”")]
    [InlineData("退订\u200b")]
    public void An_unsubscribe_keyword_is_known_whatever_the_keyboard_did(string reply) => Assert.True(OptOutKeywords.IsOptOut(reply));

    [Theory]
    [InlineData("START")]
    [InlineData("ｓｔａｒｔ")]
    [InlineData("订阅！")]
    public void A_subscribe_keyword_is_known(string reply) => Assert.True(OptOutKeywords.IsOptIn(reply));

    [Theory]
    [InlineData("TT")]
    [InlineData("请不要退订")]
    [InlineData("STOP IT")]
    [InlineData("")]
    [InlineData("T D")]
    public void Other_text_is_no_keyword(string reply)
    {
        Assert.False(OptOutKeywords.IsOptOut(reply));
        Assert.False(OptOutKeywords.IsOptIn(reply));
    }
}
