import CGeventOpenSSL
import COpenSSL

/// What a peer's certificate says: who it is for, who issued it, when it is valid.
///
/// Read from ``TLSSocket/peerCertificate`` after the handshake; the texts are OpenSSL's (names in RFC 2253
/// form, dates as "Dec  2 05:41:37 2027 GMT"). Any thread may read and pass one.
public struct TLSCertificateSummary: Sendable, CustomStringConvertible {
    /// The subject, for example "CN=localhost,O=Example".
    public let subject: String
    /// The issuer, for example "CN=Example Test CA".
    public let issuer: String
    /// The subject alternative names, for example `["DNS:localhost", "IP Address:127.0.0.1"]`.
    public let subjectAlternativeNames: [String]
    /// The start of the validity period.
    public let notBefore: String
    /// The end of the validity period.
    public let notAfter: String
    /// The serial number in hexadecimal.
    public let serialNumber: String

    /// Summarises `certificate` (an `X509 *`); the caller keeps its reference.
    init(_ certificate: OpaquePointer) {
        subject = TLSCertificateSummary.take(gevent_tls_x509_subject(certificate))
        issuer = TLSCertificateSummary.take(gevent_tls_x509_issuer(certificate))
        let names = TLSCertificateSummary.take(gevent_tls_x509_alt_names(certificate))
        subjectAlternativeNames = names.isEmpty ? [] : names.split(separator: "\n").map(String.init)
        notBefore = TLSCertificateSummary.take(gevent_tls_x509_not_before(certificate))
        notAfter = TLSCertificateSummary.take(gevent_tls_x509_not_after(certificate))
        serialNumber = TLSCertificateSummary.take(gevent_tls_x509_serial(certificate))
    }

    /// A malloc'd C string from CGeventOpenSSL as a String, freed; "" for NULL.
    private static func take(_ text: UnsafeMutablePointer<CChar>?) -> String {
        guard let text else { return "" }
        defer { gevent_tls_free(text) }
        return String(cString: text)
    }

    /// "subject CN=localhost issued by CN=Test CA, valid Dec  2 ... GMT to Dec  2 ... GMT".
    public var description: String {
        "subject \(subject) issued by \(issuer), valid \(notBefore) to \(notAfter)"
    }
}
