// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import Testing

/// The SDK's uevent parser: what the kernel sends parses; what it does not is rejected, not guessed at.
@Suite("kernel uevents")
struct KernelUEventTests {
    func bytes(_ parts: [String]) -> [UInt8] { parts.flatMap { Array($0.utf8) + [0] } }

    @Test("a DLM lockspace event: header and fields")
    func lockspaceEvent() throws {
        let e = try #require(KernelUEvent(datagram: bytes(["online@/kernel/dlm/ls1", "ACTION=online", "DEVPATH=/kernel/dlm/ls1",
                                                           "SUBSYSTEM=dlm", "LOCKSPACE=ls1", "SEQNUM=1042"])))
        #expect(e.action == "online" && e.devicePath == "/kernel/dlm/ls1" && e.subsystem == "dlm")
        #expect(e.fields["LOCKSPACE"] == "ls1" && e.fields["SEQNUM"] == "1042")
        #expect(KernelUEvent(datagram: e.datagram) == e)
        #expect(e.description == "online@/kernel/dlm/ls1 (dlm)")
    }

    @Test("a value may contain '='; a header alone is an event")
    func edgeCases() throws {
        let e = try #require(KernelUEvent(datagram: bytes(["change@/devices/x", "MODALIAS=a=b"])))
        #expect(e.fields["MODALIAS"] == "a=b")
        #expect(KernelUEvent(datagram: bytes(["add@/module/dlm"]))?.action == "add")
    }

    @Test("rejected: no header, udev's re-broadcast, fields contradicting the header, a field without a key, not UTF-8, empty")
    func rejected() {
        #expect(KernelUEvent(datagram: bytes(["ACTION=online", "DEVPATH=/kernel/dlm/x"])) == nil)
        #expect(KernelUEvent(datagram: Array("libudev".utf8) + [0, 0xfe, 0xed, 0xca, 0xfe] + bytes(["add@/devices/x"])) == nil)
        #expect(KernelUEvent(datagram: bytes(["online@/kernel/dlm/a", "ACTION=offline"])) == nil)
        #expect(KernelUEvent(datagram: bytes(["online@/kernel/dlm/a", "DEVPATH=/kernel/dlm/b"])) == nil)
        #expect(KernelUEvent(datagram: bytes(["online@/kernel/dlm/a", "=x"])) == nil)
        #expect(KernelUEvent(datagram: bytes(["online@/kernel/dlm/a", "NOVALUE"])) == nil)
        #expect(KernelUEvent(datagram: bytes(["online@kernel/dlm/a"])) == nil)
        #expect(KernelUEvent(datagram: [0x6f, 0x40, 0x2f, 0xff, 0]) == nil)
        #expect(KernelUEvent(datagram: [UInt8]()) == nil)
    }
}
