// The parser's types (HTTPRequestHead, HTTPParseError, ...) and swift-http-types' request and response
// model are part of this module's API: handlers need them without importing two more modules.
@_exported import GeventHTTPParser
@_exported import HTTPTypes
