/// A setting's value that cannot be used, with what would have been accepted.
///
/// Its ``description`` names the variable (or `gevent-run` option), repeats the value and lists the
/// accepted forms: `GEVENT_STACK_SIZE=1.5M is not a size of at least 16K: give bytes (262144) or a whole
/// number with K, M or G, or KiB, MiB, GiB, in any case (512K, 1m, 1MiB)`.
public struct SettingError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The variable (`GEVENT_STACK_SIZE`) or the command-line option (`--stack-size`) that held the value.
    public let source: String
    /// The value as given.
    public let value: String
    /// What the value should have been, beginning with an article: "a size of at least 16K: …".
    public let expected: String

    /// Creates an error. Never switches; any thread.
    public init(source: String, value: String, expected: String) {
        self.source = source
        self.value = value
        self.expected = expected
    }

    /// `NAME=value is not …` for a variable, `--option value is not …` for an option. Never switches;
    /// any thread.
    public var description: String {
        let given = source.hasPrefix("-") ? "\(source) \(value)" : "\(source)=\(value)"
        return "\(given) is not \(expected)"
    }
}

/// The one parser of setting values: sizes, durations, counts, booleans and names, read the same way from
/// `GEVENT_*` variables (by ``GeventConfig``) and from `gevent-run`'s options.
///
/// Every parser ignores spaces and tabs around the value and letter case, and throws a ``SettingError``
/// that lists the accepted forms. None of them switches greenlets; any thread.
public enum SettingParser {
    /// What ``size(_:atLeast:for:)`` accepts, for messages and the settings table.
    public static let sizeForms =
        "bytes (262144) or a whole number with K, M or G, or KiB, MiB, GiB, in any case (512K, 1m, 1MiB)"

    /// What ``duration(_:in:for:)`` accepts, for messages and the settings table.
    public static let durationForms = "seconds (0.25) or a number with s, ms, us or ns (250ms, 1.5s)"

    /// What ``boolean(_:for:)`` accepts.
    public static let booleanForms = "1, true, yes, on or 0, false, no, off"

    /// Parses a byte count: `1048576`, `512K`, `512k`, `1M`, `1MiB`, `1mib`, `2G`; K, M and G are powers of
    /// 1024 as in `ulimit`, and so are KiB, MiB and GiB. No fractions, signs or `KB`. Never switches; any
    /// thread.
    ///
    /// - Parameters:
    ///   - text: the value.
    ///   - minimum: the smallest size accepted (a positive number of bytes).
    ///   - source: the variable or option the value came from, for the error.
    /// - Returns: the size in bytes.
    /// - Throws: ``SettingError`` naming `source` and the accepted forms.
    public static func size(_ text: String, atLeast minimum: Int = 1, for source: String) throws(SettingError) -> Int {
        let error = SettingError(
            source: source,
            value: text,
            expected: "a size of at least \(formatSize(minimum)): give \(sizeForms)"
        )
        let trimmed = text.trimmingBlanks().lowercased()
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        let multipliers: [Substring: Int] = [
            "": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30,
        ]
        guard !digits.isEmpty, let multiplier = multipliers[trimmed.dropFirst(digits.count)],
            let value = Int(digits), value <= Int.max / multiplier, value * multiplier >= max(minimum, 1)
        else { throw error }
        return value * multiplier
    }

    /// Parses a duration: a plain number is seconds (`0.005`, `2`, gevent's form); a unit may follow (`s`,
    /// `ms`, `us`, `ns`: `5ms`, `1.5s`, `250us`). No signs, exponents, `inf` or `nan`. Never switches; any
    /// thread.
    ///
    /// - Parameters:
    ///   - text: the value.
    ///   - range: the durations accepted.
    ///   - source: the variable or option the value came from, for the error.
    /// - Returns: the duration, rounded to whole nanoseconds.
    /// - Throws: ``SettingError`` naming `source`, the range and the accepted forms.
    public static func duration(
        _ text: String,
        in range: ClosedRange<Duration>,
        for source: String
    ) throws(SettingError)
        -> Duration
    {
        let error = SettingError(
            source: source,
            value: text,
            expected: "a duration from \(formatDuration(range.lowerBound)) to \(formatDuration(range.upperBound)): "
                + "give \(durationForms)"
        )
        let trimmed = text.trimmingBlanks().lowercased()
        let number = trimmed.prefix { ($0.isASCII && $0.isNumber) || $0 == "." }
        let nanosecondsPerUnit: [Substring: Double] = ["": 1e9, "s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1]
        guard let first = number.first, first != ".", number.filter({ $0 == "." }).count <= 1,
            number.last != ".", let perUnit = nanosecondsPerUnit[trimmed.dropFirst(number.count)],
            let value = Double(number), (value * perUnit).rounded() < 9.2e18
        else { throw error }
        let duration = Duration.nanoseconds(Int64((value * perUnit).rounded()))
        guard range.contains(duration) else { throw error }
        return duration
    }

    /// Parses a thread or item count: a whole decimal number of at least `minimum`. Never switches; any
    /// thread.
    ///
    /// - Throws: ``SettingError`` naming `source`.
    public static func count(_ text: String, atLeast minimum: Int, for source: String) throws(SettingError) -> Int {
        let trimmed = text.trimmingBlanks()
        guard !trimmed.isEmpty, trimmed.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(trimmed),
            value >= minimum
        else {
            throw SettingError(source: source, value: text, expected: "a whole number of at least \(minimum)")
        }
        return value
    }

    /// Parses a comma-separated list of items (name servers), each trimmed, empty ones dropped. Never
    /// switches; any thread.
    ///
    /// - Parameters:
    ///   - expected: what the list should hold, for the error ("a comma-separated list of servers: …").
    /// - Throws: ``SettingError`` naming `source` when the list holds nothing.
    public static func list(_ text: String, expected: String, for source: String) throws(SettingError) -> [String] {
        let items = text.split(separator: ",").map { String($0).trimmingBlanks() }.filter { !$0.isEmpty }
        guard !items.isEmpty else { throw SettingError(source: source, value: text, expected: expected) }
        return items
    }

    /// Parses a switch: `1`, `true`, `yes`, `on` or `0`, `false`, `no`, `off`. Never switches; any thread.
    ///
    /// - Throws: ``SettingError`` naming `source`.
    public static func boolean(_ text: String, for source: String) throws(SettingError) -> Bool {
        switch text.trimmingBlanks().lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw SettingError(source: source, value: text, expected: "a boolean: give \(booleanForms)")
        }
    }

    /// Parses one of a fixed set of names (a libev backend, for example). Never switches; any thread.
    ///
    /// - Throws: ``SettingError`` naming `source` and every accepted name.
    public static func name<Choice: RawRepresentable & CaseIterable>(
        _ text: String,
        of type: Choice.Type,
        for source: String
    ) throws(SettingError) -> Choice where Choice.RawValue == String {
        if let choice = Choice(rawValue: text.trimmingBlanks().lowercased()) {
            return choice
        }
        throw SettingError(source: source, value: text, expected: "one of \(namesList(Choice.self))")
    }

    /// `a, b or c`: the raw values of `type`, for messages and the settings table. Never switches; any
    /// thread.
    public static func namesList<Choice: RawRepresentable & CaseIterable>(_ type: Choice.Type) -> String
    where Choice.RawValue == String {
        let names = Choice.allCases.map(\.rawValue)
        guard names.count > 1 else { return names.joined() }
        return names.dropLast().joined(separator: ", ") + " or " + names.last!
    }

    /// `256K`, `1M`, `1000`: the shortest exact spelling ``size(_:atLeast:for:)`` reads back. Never
    /// switches; any thread.
    public static func formatSize(_ bytes: Int) -> String {
        for (unit, factor) in [("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)]
        where bytes >= factor && bytes % factor == 0 {
            return "\(bytes / factor)\(unit)"
        }
        return "\(bytes)"
    }

    /// `5ms`, `0.1s`, `10s`: a duration as ``duration(_:in:for:)`` reads it back. Never switches; any
    /// thread.
    public static func formatDuration(_ duration: Duration) -> String {
        let nanoseconds = duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
        for (unit, factor) in [("s", Int64(1_000_000_000)), ("ms", 1_000_000), ("us", 1000)]
        where nanoseconds >= factor && nanoseconds % factor == 0 {
            return "\(nanoseconds / factor)\(unit)"
        }
        if nanoseconds >= 100_000_000 {
            return "\(Double(nanoseconds) / 1e9)s"
        }
        return "\(nanoseconds)ns"
    }
}

extension String {
    /// The string without the spaces and tabs around it.
    func trimmingBlanks() -> String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        return String(self.drop(while: isBlank).reversed().drop(while: isBlank).reversed())
    }
}
