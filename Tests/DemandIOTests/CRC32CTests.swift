import CURing
import Testing

@Suite("CRC-32C")
struct CRC32CTests {
    typealias Update = (UInt32, UnsafeRawPointer?, Int) -> UInt32
    static var paths: [(String, Update)] { [
        ("dispatch", dl_crc32c_update),
        ("software", dl_crc32c_update_software),
        ("hardware", dl_crc32c_update_hardware),
        ("hardware serial", dl_crc32c_update_hardware_serial),
    ] }

    static func crc(_ bytes: [UInt8], _ update: Update = dl_crc32c_update) -> UInt32 {
        bytes.withUnsafeBytes { update(0, $0.baseAddress, $0.count) }
    }

    static func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SplitMix(state: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
    }

    @Test("known vectors on every path")
    func knownVectors() {
        for (name, update) in Self.paths {
            #expect(Self.crc(Array("123456789".utf8), update) == 0xE306_9283, "\(name)")
            #expect(Self.crc([], update) == 0, "\(name): empty")
            // RFC 3720 (iSCSI) B.4 vectors: 32 bytes of zeros, of 0xFF, ascending.
            #expect(Self.crc([UInt8](repeating: 0, count: 32), update) == 0x8A91_36AA, "\(name): zeros")
            #expect(Self.crc([UInt8](repeating: 0xFF, count: 32), update) == 0x62A8_AB43, "\(name): ones")
            #expect(Self.crc((0..<32).map { UInt8($0) }, update) == 0x46DD_794E, "\(name): ascending")
        }
    }

    /// Joining chunk sums equals summing the whole, for splits at every kind of
    /// boundary (empty pieces, odd lengths, whole 512 KiB chunks).
    @Test("sums of pieces combine into the sum of the whole")
    func combine() {
        let bytes = Self.randomBytes(1_500_000, seed: 7)
        let whole = Self.crc(bytes)
        for cuts in [[0], [1], [4095, 4096], [524_288, 1_048_576], [3, 77, 1_499_999], [1_500_000]] {
            var joined: UInt32 = 0
            var start = 0
            for end in cuts + [bytes.count] {
                let piece = Array(bytes[start..<end])
                joined = dl_crc32c_combine(joined, Self.crc(piece), piece.count)
                start = end
            }
            #expect(joined == whole, "cuts \(cuts)")
        }
        #expect(dl_crc32c_combine(Self.crc(Array("1234".utf8)), Self.crc(Array("56789".utf8)), 5) == 0xE306_9283)
    }

    @Test("the hardware path is used on x86-64 with SSE4.2")
    func hardwareDetected() {
        #if arch(x86_64)
        // Every x86-64 CPU made since 2008 has SSE4.2; a miss here means the detection broke.
        #expect(dl_crc32c_is_hardware() == 1)
        #endif
    }

    @Test("1 MiB of random bytes: hardware 3-way, hardware serial and software agree")
    func largeBufferAgrees() {
        let bytes = Self.randomBytes(1 << 20, seed: 7)
        let software = Self.crc(bytes, dl_crc32c_update_software)
        #expect(Self.crc(bytes, dl_crc32c_update_hardware) == software)
        #expect(Self.crc(bytes, dl_crc32c_update_hardware_serial) == software)
        #expect(Self.crc(bytes) == software)
    }

    @Test("odd lengths and unaligned starts, across the 3-lane block sizes")
    func oddLengthsAndStarts() {
        let bytes = Self.randomBytes(80_000, seed: 11)
        // Around 3 × 256 (short blocks) and 3 × 8192 (long blocks), and small.
        var lengths = Array(0...100)
        for block in [768, 24_576, 49_152] { lengths += (block - 9)...(block + 9) }
        lengths += [1000, 4095, 4097, 65_537, 79_992]
        bytes.withUnsafeBytes { raw in
            for start in 0..<9 {
                for length in lengths where start + length <= raw.count {
                    let base = raw.baseAddress! + start
                    let expected = dl_crc32c_update_software(0x1234_5678, base, length)
                    #expect(dl_crc32c_update_hardware(0x1234_5678, base, length) == expected, "start \(start), length \(length)")
                    #expect(dl_crc32c_update_hardware_serial(0x1234_5678, base, length) == expected, "start \(start), length \(length)")
                }
            }
        }
    }

    @Test("feeding pieces one after another equals the whole", arguments: [1, 7, 64, 4096, 100_003])
    func incremental(pieceBytes: Int) {
        let bytes = Self.randomBytes(300_001, seed: 3)
        let whole = Self.crc(bytes)
        for (name, update) in Self.paths {
            var crc: UInt32 = 0
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let count = min(pieceBytes, raw.count - offset)
                    crc = update(crc, raw.baseAddress! + offset, count)
                    offset += count
                }
            }
            #expect(crc == whole, "\(name), pieces of \(pieceBytes)")
        }
    }
}

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
