/// Traps with `message` when `condition` is false. Unlike `precondition`, the message survives `-O`, so the
/// fuzzer's crash report says which property broke.
@inline(__always)
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}
