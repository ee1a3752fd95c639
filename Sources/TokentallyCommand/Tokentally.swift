import ArgumentParser
import TokentallyCore
import TokentallyNative

@main
struct Tokentally: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tokentally", abstract: "LLM gateway usage analytics")
}
