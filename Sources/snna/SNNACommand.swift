import ArgumentParser

@main
struct SNNACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snna",
        abstract: "Predict driving actions with a ViT and explain them with SNNA heatmaps.",
        subcommands: [ExplainCommand.self, ProcessCommand.self, ServeCommand.self, ModelCommand.self, HeadCommand.self, SamplesCommand.self, EvalCommand.self, BenchCommand.self, CheckConfigCommand.self, JobsCommand.self, WorkerCommand.self])
}
