import TokentallySystem
import TokentallyReading
import TokentallyCounting
import TokentallyOutput
import TokentallyConfiguration
import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the configuration on SIGHUP (`systemctl reload`). The new file is read and fully
/// validated here, off the ingest thread; a valid one is handed to the follow loop, which
/// applies it between lines. An invalid one, or a change that cannot be applied live, keeps
/// the old configuration running, logs one line and shows the reason in `STATUS=`.
struct ReloadService: Service {
    let loop: FollowLoop
    /// Reads and validates the configuration file again (the same way as at start-up).
    public let load: @Sendable () throws -> Configuration
    let logger: Logger

    public init(loop: FollowLoop, logger: Logger, load: @escaping @Sendable () throws -> Configuration) {
        self.loop = loop
        self.load = load
        self.logger = logger
    }

    public func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        for await _ in hangups.cancelOnGracefulShutdown() {
            logger.info("SIGHUP: reloading the configuration")
            let configuration: Configuration
            do {
                configuration = try load()
                guard !configuration.inputs.isEmpty else { throw CommandError.usage("inputs: no inputs configured") }
            } catch {
                logger.error("reload refused; the old configuration keeps running: \(error)")
                loop.reportRefusedReload("\(error)")
                continue
            }
            loop.requestReload(configuration)
        }
    }
}
