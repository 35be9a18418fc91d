extension CommandDefinition {
    /// The built-in commands, in the order `help` lists them. Commands from other files (`rules`, `log`) are
    /// added with `CommandRegistry.register(_:)`, or by adding them here.
    public static let builtins: [CommandDefinition] = [
        .thing, .things, .messages, .alerts, .send, .commands, .install, .installations, .groups, .group, .export,
        .plot, .watch, .tail,
        .rules, .log, .runStatus, .profiles, .login, .set, .help, .exit,
    ]
}
