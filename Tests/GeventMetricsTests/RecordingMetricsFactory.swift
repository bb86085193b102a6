import CoreMetrics
import Synchronization

/// A swift-metrics backend that keeps every value reported, by label: what a real backend sees.
final class RecordingMetricsFactory: MetricsFactory {
    final class Handler: CounterHandler, FloatingPointCounterHandler, RecorderHandler, TimerHandler, MeterHandler {
        let label: String
        let dimensions: [(String, String)]
        private let values = Mutex<[Double]>([])

        init(label: String, dimensions: [(String, String)]) {
            self.label = label
            self.dimensions = dimensions
        }

        /// Every value reported, in order (increments for counters, readings for gauges).
        var recorded: [Double] { values.withLock { $0 } }
        /// The sum of the increments (counters).
        var total: Double { recorded.reduce(0, +) }

        func increment(by amount: Int64) { values.withLock { $0.append(Double(amount)) } }
        func increment(by amount: Double) { values.withLock { $0.append(amount) } }
        func decrement(by amount: Double) { values.withLock { $0.append(-amount) } }
        func record(_ value: Int64) { values.withLock { $0.append(Double(value)) } }
        func record(_ value: Double) { values.withLock { $0.append(value) } }
        func set(_ value: Int64) { values.withLock { $0.append(Double(value)) } }
        func set(_ value: Double) { values.withLock { $0.append(value) } }
        func recordNanoseconds(_ duration: Int64) { values.withLock { $0.append(Double(duration)) } }
        func reset() { values.withLock { $0.removeAll() } }
    }

    private let handlers = Mutex<[String: Handler]>([:])

    /// The handler made for `label`; fails the test when there is none.
    func handler(_ label: String) -> Handler? {
        handlers.withLock { $0[label] }
    }

    private func make(_ label: String, _ dimensions: [(String, String)]) -> Handler {
        let handler = Handler(label: label, dimensions: dimensions)
        handlers.withLock { $0[label] = handler }
        return handler
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        make(label, dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        make(label, dimensions)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        make(label, dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        make(label, dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        make(label, dimensions)
    }

    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyMeter(_ handler: any MeterHandler) {}
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}

extension RecordingMetricsFactory: @unchecked Sendable {
    // `handlers` is a Mutex; Handler's values are behind their own Mutex.
}

extension RecordingMetricsFactory.Handler: @unchecked Sendable {
    // `values` is a Mutex; `label` and `dimensions` never change.
}
