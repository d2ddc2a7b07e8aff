import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started with posix_spawn and a clean signal mask. The tests start every process through it,
/// never through Foundation's `Process`:
/// - `Process` passes on the signal mask of the thread that spawns it; test threads block SIGTERM and SIGALRM,
///   and a child that inherits that mask can be neither stopped nor timed out (`timeout` relies on SIGALRM).
///   Here the mask is cleared and dispositions reset, so `timeout` and SIGTERM work in the child.
/// - `Process.run()` in the toolchain's Foundation lists `/proc/self/fd` copying whole `dirent` records, and
///   reads past glibc's buffer now and then when many descriptors are open (swift-corelibs-foundation#5472):
///   with hundreds of test sockets open it crashed the test process.
public final class ChildProcess: @unchecked Sendable {
    // @unchecked: `pid` and the file handles are set once in init and never mutated; FileHandle is thread-safe
    // for the one reader each handle has.
    public let pid: pid_t
    public let standardInput: FileHandle?
    public let standardOutput: FileHandle
    public let standardError: FileHandle

    #if canImport(Glibc)
    /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34 and later), which Swift's Glibc module does not show.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()
    #endif

    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, withStandardInput: Bool = false) throws {
        var input: [Int32] = [-1, -1]
        var output: [Int32] = [-1, -1]
        var errors: [Int32] = [-1, -1]
        guard pipe(&output) == 0, pipe(&errors) == 0, !withStandardInput || pipe(&input) == 0 else {
            throw POSIXError(.EMFILE)
        }
        // Darwin's spawn types are opaque pointers, set by their init functions; glibc's are structures.
        #if canImport(Glibc)
        var actions = posix_spawn_file_actions_t()
        #else
        var actions: posix_spawn_file_actions_t?
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if withStandardInput {
            posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errors[1], 2)
        // Nothing else of this process's goes along: not the pipes of other children, and above all not the
        // sockets of other tests (a listening socket inherited by a broker would keep its port taken).
        #if canImport(Glibc)
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }
        #endif

        #if canImport(Glibc)
        var attributes = posix_spawnattr_t()
        #else
        var attributes: posix_spawnattr_t?
        #endif
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGALRM, SIGPIPE, SIGHUP, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        #if canImport(Darwin)
        // Darwin closes every descriptor `actions` does not name, as closefrom does above.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_CLOEXEC_DEFAULT))
        #else
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        #endif

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let environmentStrings = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in environmentStrings { free(pointer) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, environmentStrings)
        close(output[1])
        close(errors[1])
        if withStandardInput { close(input[0]) }
        guard status == 0 else {
            close(output[0])
            close(errors[0])
            if withStandardInput { close(input[1]) }
            throw POSIXError(POSIXErrorCode(rawValue: status) ?? .ENOENT)
        }
        self.pid = pid
        standardOutput = FileHandle(fileDescriptor: output[0], closeOnDealloc: true)
        standardError = FileHandle(fileDescriptor: errors[0], closeOnDealloc: true)
        standardInput = withStandardInput ? FileHandle(fileDescriptor: input[1], closeOnDealloc: true) : nil
    }

    public func signal(_ signal: Int32) {
        kill(pid, signal)
    }

    /// Waits for the process to end and returns its exit status (128 + n when killed by signal n).
    public func exitStatus() async -> Int32 {
        let pid = self.pid
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: Self.waitForExit(pid)) }
        }
    }

    /// Reads a stream to its end on a thread of its own.
    public static func readAll(_ handle: FileHandle) async -> String {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let data = (try? handle.readToEnd()) ?? Data()
                continuation.resume(returning: String(decoding: data, as: UTF8.self))
            }
        }
    }

    /// Reads `handle` until `text` appears or the stream ends; returns everything read.
    public static func read(_ handle: FileHandle, until text: String) async -> String {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var seen = ""
                while true {
                    let data = handle.availableData
                    if data.isEmpty { break }
                    seen += String(decoding: data, as: UTF8.self)
                    if seen.contains(text) { break }
                }
                continuation.resume(returning: seen)
            }
        }
    }

    /// Runs `executable` to its end on the calling thread; returns its exit status and what it wrote to standard
    /// error.
    public static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, errors: String) {
        let process = try ChildProcess(executable, arguments)
        try process.standardOutput.close()
        let errors = (try? process.standardError.readToEnd()) ?? Data()
        return (waitForExit(process.pid), String(decoding: errors, as: UTF8.self))
    }

    private static func waitForExit(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }
}
