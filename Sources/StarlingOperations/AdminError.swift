import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An answer other than success, as the admin API gives it: a status and `{"error": "…"}`.
struct AdminError: HTTPResponseError {
    var status: HTTPResponse.Status
    var message: String
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.headers = headers
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let body = (try? encoder.encode(["error": message])) ?? Data(#"{"error":"error"}"#.utf8)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// Every failure leaves as JSON with a message: the router's own (unknown path, wrong method, body too large)
/// as well as the API's; anything unexpected is a 500 that is logged, never a crash.
struct AdminErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as AdminError {
            throw error
        } catch let error as HTTPError {
            let message = error.body ?? Self.message(for: error.status)
            throw AdminError(error.status, message, headers: error.headers)
        } catch let error as any HTTPResponseError {
            throw AdminError(error.status, Self.message(for: error.status))
        } catch {
            context.logger.error("admin request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            throw AdminError(.internalServerError, "internal error")
        }
    }

    private static func message(for status: HTTPResponse.Status) -> String {
        switch status {
        case .notFound: "no such resource"
        case .methodNotAllowed: "method not allowed"
        case .contentTooLarge: "request body too large"
        default: status.reasonPhrase.isEmpty ? "request failed" : status.reasonPhrase.lowercased()
        }
    }
}
