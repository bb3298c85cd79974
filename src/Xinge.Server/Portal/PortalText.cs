using System.Globalization;

namespace Xinge.Server.Portal;

/// <summary>
/// The portal's words in Chinese (zh-CN) and English. Pages write the English and show this table's Chinese when the
/// person's language is Chinese; a test checks that every text a page uses has its Chinese here.
/// </summary>
public static class PortalText
{
    public static bool Chinese => CultureInfo.CurrentUICulture.Name.StartsWith("zh", StringComparison.Ordinal);

    public static string T(string english) => Chinese && ZhCn.TryGetValue(english, out var zh) ? zh : english;

    public static readonly Dictionary<string, string> ZhCn = new()
    {
        ["English"] = "中文",
        ["Menu"] = "菜单",
        ["Password"] = "密码",
        ["Sign in"] = "登录",
        ["Sign out"] = "退出",
        ["Username"] = "用户名",
        ["Too many failed attempts. Wait a while and try again."] = "失败次数过多，请稍后再试。",
        ["Enter a username and a password."] = "请输入用户名和密码。",
        ["The username or password is wrong."] = "用户名或密码错误。",
        ["Change password"] = "修改密码",
        ["Your password was issued to you. Choose your own before you go on."] = "您的密码由管理员设置，请先设置自己的密码。",
        ["Current password"] = "当前密码",
        ["New password"] = "新密码",
        ["New password again"] = "再次输入新密码",
        ["The new password and its repetition differ."] = "两次输入的新密码不一致。",
        ["Back"] = "返回",
        ["Not allowed"] = "无权访问",
        ["Your role does not have the right to open this page."] = "您的角色没有打开此页面的权限。",
        ["There is no such page."] = "页面不存在。",
        ["Dashboard"] = "概览",
        ["Send"] = "发送短信",
        ["Jobs"] = "群发任务",
        ["Messages"] = "短信记录",
        ["Replies"] = "回复收件箱",
        ["Signatures"] = "签名",
        ["Balance"] = "余额",
        ["API keys"] = "API 密钥",
        ["Webhook"] = "回调设置",
        ["Users"] = "用户",
        ["Enterprises"] = "企业",
        ["Review queue"] = "审核队列",
        ["Connectors"] = "通道",
        ["Roles and rights"] = "角色与权限",
        ["Audit log"] = "审计日志",
        ["Statistics"] = "统计报表",
        ["Simulator phones"] = "模拟手机",
    };
}
