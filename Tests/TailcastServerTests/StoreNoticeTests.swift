import Testing

@testable import TailcastServer

@Suite struct StoreNoticeTests {
    @Test(arguments: [
        StoreNotice.job("train-42"),
        StoreNotice.removed("train-42"),
        StoreNotice.chunk(job: "train-42", stream: "stdout", end: 1234),
        // Stream names of `tail` are paths and may hold spaces.
        StoreNotice.chunk(job: "j", stream: "/var/log/my app 2.log", end: 0),
    ])
    func aNoticeReadsBackAsSent(notice: StoreNotice) {
        #expect(StoreNotice(payload: notice.payload) == notice)
    }

    @Test(arguments: ["", "job", "chunk j 12", "chunk j s x", "hello j"])
    func otherPayloadsAreIgnored(payload: String) {
        #expect(StoreNotice(payload: payload) == nil)
    }
}
