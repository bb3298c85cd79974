using Xinge.Server;

var app = XingeApp.Build(args);
await app.RunAsync();
