import Foundation
import HTTPTypes
import Hummingbird
import MQTT
import NIOCore
import StarlingBroker

/// Lets a request in when it carries the configured bearer token or Basic credentials of a configured user;
/// when neither is configured (a loopback listener), everybody. Health checks and the dashboard's static files
/// need nothing: the dashboard asks for the token itself.
struct CredentialsMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String?
    let users: (any ConnectionAuthenticator)?

    static func isOpen(_ path: String) -> Bool {
        path == "/" || path == "/healthz" || path == "/readyz" || path.hasPrefix("/assets/") || path == "/favicon.ico"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard token != nil || users != nil, !Self.isOpen(request.uri.path) else { return try await next(request, context) }
        if let authorization = request.headers[.authorization], try await accepts(authorization, from: context) {
            return try await next(request, context)
        }
        context.logger.info("operations request refused: missing or wrong credentials", metadata: ["path": "\(request.uri.path)"])
        throw AdminError(.unauthorized, "credentials required: Authorization: Bearer TOKEN", headers: [.wwwAuthenticate: #"Bearer realm="starling""#])
    }

    private func accepts(_ authorization: String, from context: Context) async throws -> Bool {
        if let token, authorization.hasPrefix("Bearer ") {
            return Self.constantTimeEqual(Array(authorization.utf8.dropFirst(7)), Array(token.utf8))
        }
        if let users, authorization.hasPrefix("Basic "),
            let decoded = Data(base64Encoded: String(authorization.dropFirst(6))).flatMap({ String(data: $0, encoding: .utf8) }),
            let colon = decoded.firstIndex(of: ":")
        {
            let request = AuthenticationRequest(
                clientIdentifier: "starling-http", userName: String(decoded[..<colon]),
                password: ByteBuffer(string: String(decoded[decoded.index(after: colon)...])), protocolVersion: .v5)
            if case .accept = try await users.authenticate(request) { return true }
        }
        return false
    }

    /// Compares without stopping at the first difference, so that timing tells nothing about the token.
    private static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        var difference = UInt8(lhs.count == rhs.count ? 0 : 1)
        for index in 0..<max(lhs.count, rhs.count) {
            difference |= (index < lhs.count ? lhs[index] : 0) ^ (index < rhs.count ? rhs[index] : 0)
        }
        return difference == 0
    }
}
