using System.Text.RegularExpressions;
using Xinge.Server.Features.Accounts;
using Xinge.Server.Features.Messaging;
using Xinge.Server.Features.Reports;
using Xinge.Server.Portal;

namespace Xinge.Server.Tests.Portal;

public sealed partial class PortalTextTests
{
    [GeneratedRegex("""\bT\("((?:[^"\\]|\\.)*)"\)""")]
    private static partial Regex TextCall();

    [GeneratedRegex("""new\("/[^"]*", "([^"]*)", Rights\.""")]
    private static partial Regex MenuTitle();

    /// <summary>Every text a page shows through T(…) has its Chinese; so do the values pages pass to it.</summary>
    [Fact]
    public void Every_text_of_the_portal_has_its_Chinese()
    {
        var root = Path.Combine(Path.GetDirectoryName(BrowserFixture.Screenshots)!, "..", "src", "Xinge.Server");
        var files = Directory.EnumerateFiles(root, "*.razor", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(Path.Combine(root, "Portal"), "*.cs"))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)).ToList();
        Assert.True(files.Count > 20, $"the portal's sources under {root}");
        var texts = files.SelectMany(f =>
        {
            var source = File.ReadAllText(f);
            return TextCall().Matches(source).Concat(MenuTitle().Matches(source)).Select(m => m.Groups[1].Value);
        });
        var values = MessageStatus.All.Concat(Rights.RoleScopes.Keys).Concat([Category.Otp, Category.Notification, Category.Marketing])
            .Concat(Rights.All.Select(r => r.Description)).Concat(ReportQueries.Dimensions).Concat([Outcome.Success, Outcome.Failure, Outcome.Denied]);
        var missing = texts.Concat(values).Distinct().Where(t => !PortalText.ZhCn.ContainsKey(t)).ToList();
        Assert.True(missing.Count == 0, "without Chinese: " + string.Join(" | ", missing));
    }
}
