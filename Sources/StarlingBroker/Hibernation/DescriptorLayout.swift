#if os(Linux)
import CStarlingLinux
import NIOCore
import Synchronization

/// Where a channel class keeps its socket's descriptor, as byte offsets: the socket object in the channel, the
/// descriptor in the socket. Reflection finds the descriptor for any channel but costs about as much as the
/// rest of a hibernation together; the offsets are fixed for a class, so they are learned from the first
/// channels of each class, whose memory is searched for the values reflection returned, and read directly
/// afterwards.
///
/// An offset is trusted only once it is the single place that held the right value in every channel seen, over
/// several channels with different descriptors. A class whose values are ever found nowhere is read by
/// reflection from then on.
struct DescriptorLayout: Sendable {
    let socketOffset: Int
    let descriptorOffset: Int

    /// Channels whose values must agree with reflection before the offsets are used.
    static let observationsNeeded = 4

    func descriptor(of channel: any Channel) -> CInt {
        let object = UnsafeRawPointer(Unmanaged.passUnretained(channel as AnyObject).toOpaque())
        // The channel holds its socket strongly while it is open, so the socket outlives this read.
        let socket = object.load(fromByteOffset: socketOffset, as: UnsafeRawPointer.self)
        return socket.load(fromByteOffset: descriptorOffset, as: CInt.self)
    }

    /// What is known of one channel class.
    enum Knowledge: Sendable {
        case learning(Candidates)
        case learned(DescriptorLayout)
        /// Reflection only: the values could not be placed.
        case unplaceable
    }

    /// The offsets still consistent with every channel seen, and the descriptors seen.
    struct Candidates: Sendable {
        var socketOffsets: [Int]?
        var descriptorOffsets: [Int]?
        var descriptors: Set<CInt> = []

        /// Narrows the candidates with one channel whose socket and descriptor reflection found.
        func observing(channel: AnyObject, socket: AnyObject, descriptor: CInt) -> Knowledge {
            let channelBytes = UnsafeRawPointer(Unmanaged.passUnretained(channel).toOpaque())
            let socketBytes = UnsafeRawPointer(Unmanaged.passUnretained(socket).toOpaque())
            let socketAddress = UInt(bitPattern: socketBytes)
            let inChannel = Self.offsets(in: channelBytes, stride: MemoryLayout<UInt>.stride) {
                $0.load(as: UInt.self) == socketAddress
            }
            let inSocket = Self.offsets(in: socketBytes, stride: MemoryLayout<CInt>.stride) {
                $0.load(as: CInt.self) == descriptor
            }
            var next = self
            next.socketOffsets = socketOffsets.map { $0.filter(inChannel.contains) } ?? inChannel
            next.descriptorOffsets = descriptorOffsets.map { $0.filter(inSocket.contains) } ?? inSocket
            next.descriptors.insert(descriptor)
            guard let socketAt = next.socketOffsets, let descriptorAt = next.descriptorOffsets,
                !socketAt.isEmpty, !descriptorAt.isEmpty
            else { return .unplaceable }
            if socketAt.count == 1, descriptorAt.count == 1, next.descriptors.count >= observationsNeeded {
                return .learned(DescriptorLayout(socketOffset: socketAt[0], descriptorOffset: descriptorAt[0]))
            }
            return .learning(next)
        }

        /// The aligned offsets past the object header, within the object's allocation, where `matches` holds.
        private static func offsets(
            in object: UnsafeRawPointer, stride: Int, where matches: (UnsafeRawPointer) -> Bool
        ) -> [Int] {
            let size = malloc_usable_size(UnsafeMutableRawPointer(mutating: object))
            let header = 2 * MemoryLayout<UInt>.stride
            var found: [Int] = []
            var offset = header
            while offset + stride <= size {
                if matches(object + offset) { found.append(offset) }
                offset += stride
            }
            return found
        }
    }

    /// What is known of each channel class met so far.
    static let knowledge = Mutex<[ObjectIdentifier: Knowledge]>([:])
}
#endif
