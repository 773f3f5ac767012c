import Testing

@testable import TailcastProgress

@Suite struct KerasParserTests {
    @Test func readsTheBarWithItsTimeLeft() {
        let event = progressEvents(in: "\r 100/1875 [>.............................] - ETA: 3s - loss: 0.3\n").first
        #expect(event == ProgressEvent(key: "keras", current: 100, total: 1875, etaSeconds: 3))
    }

    @Test func readsALongTimeLeftAndTheFinishedEpochsPace() {
        let events = progressEvents(
            in: "\r 937/1875 [==============>...............] - ETA: 1:02 - loss: 0.3 - accuracy: 0.91"
                + "\r1875/1875 [==============================] - 4s 2ms/step - loss: 0.2 - accuracy: 0.93\n")
        #expect(events.map(\.etaSeconds) == [62, 0])
        #expect(events.last == ProgressEvent(key: "keras", current: 1875, total: 1875, rate: 500, etaSeconds: 0))
    }

    @Test func leavesOtherBracketsAlone() {
        #expect(progressEvents(in: "1/2 [x] - done\n").isEmpty)
    }
}
