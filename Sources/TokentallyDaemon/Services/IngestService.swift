import TokentallySystem
import TokentallyReading
import TokentallyCounting
import TokentallyOutput
import TokentallyConfiguration
import Foundation
import Logging
import ServiceLifecycle

/// The follow loop as a `Service`: it runs on a thread of its own (it sleeps in `poll(2)`,
/// which must not block the concurrency pool) and stops on graceful shutdown or cancellation,
/// after committing and writing a final snapshot.
struct IngestService: Service {
    let loop: FollowLoop

    public init(loop: FollowLoop) {
        self.loop = loop
    }

    public func run() async throws {
        let loop = self.loop
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    let thread = Thread {
                        do {
                            try loop.run()
                            continuation.resume()
                        } catch {
                            continuation.resume(throwing: error)
                        }
                    }
                    thread.name = "tokentally-ingest"
                    thread.start()
                }
            } onGracefulShutdown: {
                loop.requestStop()
            }
        } onCancel: {
            loop.requestStop()
        }
    }
}

/// Builds the daemon: the follow loop, loaded from committed state, inside one `ServiceGroup`
/// that stops gracefully on SIGTERM and SIGINT. Everything that can be wrong with the
/// configuration, the inputs or the state is reported here, before anything is read.
///
/// - Parameters:
///   - reload: reads and validates the configuration again, for SIGHUP.
///   - notifier: `sd_notify`, or a silent notifier without a service manager.
///   - journal: where snapshot entries go, or nil for none.
public func buildDaemon(
    configuration: Configuration, opener: LogFileOpener, logger: Logger, notifier: ServiceNotifier = SilentNotifier(),
    journal: JournalSink? = nil, reload: @escaping @Sendable () throws -> Configuration
) throws(CommandError) -> (group: ServiceGroup, loop: FollowLoop) {
    guard !configuration.inputs.isEmpty else {
        throw .usage("inputs: no inputs configured; add at least one under inputs: (see config/tokentally.yaml)")
    }
    let loop = try FollowLoop(
        configuration: configuration, opener: opener, logger: logger, notifier: notifier, journal: journal)
    let group = ServiceGroup(
        configuration: .init(
            services: [
                .init(service: IngestService(loop: loop)),
                .init(service: ReloadService(loop: loop, logger: logger, load: reload)),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
    return (group, loop)
}
