#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The resident memory of a process, from `/proc/PID/status` (Linux only).
enum ProcessMemory {
    static func residentBytes(of pid: Int) -> Int? {
        guard let file = fopen("/proc/\(pid)/status", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let kilobytes = parseResident(text) { return kilobytes * 1024 }
        }
        return nil
    }

    /// The kilobytes of a `VmRSS:   1234 kB` line.
    static func parseResident(_ line: String) -> Int? {
        guard line.hasPrefix("VmRSS:") else { return nil }
        return Int(line.dropFirst(6).filter(\.isNumber))
    }
}
