import NIOSSL

/// The certificate a client presented on a TLS listener, after it was verified against the listener's trust roots.
public struct ClientCertificate: Sendable, Hashable {
    /// The subject's distinguished name as `CN=alice,O=Example`, in the certificate's order.
    public var subject: String
    /// The subject's first Common Name.
    public var commonName: String?

    /// A certificate as the broker describes it, for tests of an authenticator or an ACL.
    public init(subject: String, commonName: String?) {
        self.subject = subject
        self.commonName = commonName
    }

    init(_ certificate: NIOSSLCertificate) {
        let names = certificate.subjectName
        // Attribute types NIOSSL does not name are left out rather than shown with a made-up label.
        subject = names.compactMap { name in name.type.shortName.map { "\($0)=\(name.value)" } }.joined(separator: ",")
        commonName = names.first { $0.type == .commonName }?.value
    }
}

extension SSLCertificateNameType {
    fileprivate var shortName: String? {
        switch self {
        case .commonName: "CN"
        case .organization: "O"
        case .organizationalUnit: "OU"
        case .country: "C"
        case .state: "ST"
        case .city: "L"
        case .emailAddress: "emailAddress"
        case .userId: "UID"
        default: nil
        }
    }
}
