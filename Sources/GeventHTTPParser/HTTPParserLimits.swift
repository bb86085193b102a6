/// The sizes past which the parser rejects a request instead of buffering more.
///
/// The defaults are those of `HTTPServer`: 8 KiB request line (414, as nginx, Apache and gevent's pywsgi),
/// 64 KiB head and 100 fields (431), 4 KiB chunk-size line. Any thread may create and copy one.
public struct HTTPParserLimits: Sendable, Equatable {
    /// The longest request line, without its CRLF; longer gets 414.
    public var maxRequestLineLength: Int
    /// The longest head: request line, field lines and the empty line; longer gets 431. The same bound
    /// applies to a chunked body's trailer section.
    public var maxHeadSize: Int
    /// The most field lines in a head (and in a trailer section); more gets 431.
    public var maxFieldCount: Int
    /// The longest chunk-size line (size and extensions); longer is malformed (400).
    public var maxChunkLineLength: Int

    /// The limits, by default the server's defaults. Never switches; any thread.
    public init(
        maxRequestLineLength: Int = 8 * 1024,
        maxHeadSize: Int = 64 * 1024,
        maxFieldCount: Int = 100,
        maxChunkLineLength: Int = 4 * 1024
    ) {
        self.maxRequestLineLength = maxRequestLineLength
        self.maxHeadSize = maxHeadSize
        self.maxFieldCount = maxFieldCount
        self.maxChunkLineLength = maxChunkLineLength
    }
}
