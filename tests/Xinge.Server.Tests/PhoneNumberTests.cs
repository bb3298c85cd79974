using PhoneNumbers;
using Numbers = Xinge.Server.Features.Messaging.PhoneNumbers;

namespace Xinge.Server.Tests;

public sealed class PhoneNumberTests
{
    private static string? Reference(string input)
    {
        var util = PhoneNumberUtil.GetInstance();
        try
        {
            var n = util.Parse(input, "CN");
            return util.IsValidNumber(n) ? util.Format(n, PhoneNumberFormat.E164) : null;
        }
        catch (NumberParseException)
        {
            return null;
        }
    }

    [Fact]
    public void Chinese_mobile_numbers_read_from_the_block_cache_agree_with_libphonenumber()
    {
        var random = new Random(20261201);
        for (var i = 0; i < 30_000; i++)
        {
            // Every block from 100 to 199, and numbers of the same block that differ only after the seventh digit.
            var national = "1" + random.Next(0, 100).ToString("D2") + random.Next(0, 10_000).ToString("D4") + random.Next(0, 10_000).ToString("D4");
            Assert.Equal(Reference(national), Numbers.ToE164(national));
            Assert.Equal(Reference("+86" + national), Numbers.ToE164("+86" + national));
        }
    }

    [Theory]
    [InlineData("13800138000", "+8613800138000")]
    [InlineData("+8613800138000", "+8613800138000")]
    [InlineData("138 0013 8000", "+8613800138000")]
    [InlineData("8613800138000", "+8613800138000")]
    [InlineData("010 6552 9988", "+861065529988")]
    [InlineData("+1 650 253 0000", "+16502530000")]
    [InlineData("12345", null)]
    [InlineData("1380013800", null)]
    [InlineData("１３８００１３８０００", "+8613800138000")]
    public void Numbers_are_read_as_libphonenumber_reads_them(string input, string? e164)
    {
        Assert.Equal(e164, Numbers.ToE164(input));
        Assert.Equal(Reference(input), Numbers.ToE164(input));
    }
}
