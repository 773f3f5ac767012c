import Testing

@testable import TailcastProgress

@Suite struct TqdmParserTests {
    @Test func readsABarWithDescriptionAndPostfix() {
        let events = progressEvents(in: "\rtrain:  45%|████▌     | 45/100 [00:01<00:02, 30.0it/s, loss=0.123]\n")
        #expect(
            events == [
                ProgressEvent(
                    key: "train", current: 45, total: 100, unit: "it", rate: 30, etaSeconds: 2, label: "train")
            ])
    }

    @Test func keysABarWithoutDescriptionByFamily() {
        let events = progressEvents(in: "\r 10%|█         | 50/500 [00:00<00:04, 97.93it/s]\n")
        #expect(events == [ProgressEvent(key: "tqdm", current: 50, total: 500, unit: "it", rate: 97.93, etaSeconds: 4)])
    }

    @Test func readsACounterWithoutTotal() {
        let events = progressEvents(in: "\rReading: 450it [00:04, 98.25it/s]\n")
        #expect(events == [ProgressEvent(key: "Reading", current: 450, unit: "it", rate: 98.25, label: "Reading")])
        #expect(events.first?.percent == nil)
    }

    @Test func convertsScaledBytesBackWithDivisor1024AndEndsExactlyAtTheTotal() {
        let events = progressEvents(
            in: "\rbig.bin:   2%|▏         | 1.00M/48.0M [00:00<00:04, 10.3MB/s]"
                + "\rbig.bin: 100%|██████████| 48.0M/48.0M [00:04<00:00, 10.3MB/s]\n")
        #expect(
            events == [
                ProgressEvent(
                    key: "big.bin", current: 1_048_576, total: 50_331_648, unit: "B", rate: 10.3 * 1_048_576,
                    etaSeconds: 4, label: "big.bin"),
                ProgressEvent(
                    key: "big.bin", current: 50_331_648, total: 50_331_648, unit: "B", rate: 10.3 * 1_048_576,
                    etaSeconds: 0, label: "big.bin"),
            ])
        #expect(events.last?.percent == 100)
    }

    @Test func turnsSecondsPerIterationIntoARate() {
        let event = progressEvents(in: "\repochs:  33%|███▎      | 1/3 [00:01<00:03,  1.52s/it]\n").first
        #expect(event?.rate == 1 / 1.52)
        #expect(event?.etaSeconds == 3)
    }

    @Test func leavesUnknownRateAndRemainingTimeOut() {
        let event = progressEvents(in: "\r  0%|          | 0/500 [00:00<?, ?it/s]\n").first
        #expect(event == ProgressEvent(key: "tqdm", current: 0, total: 500, unit: "it"))
    }

    @Test func scalesOtherUnitsBy1000() {
        let event = progressEvents(in: "\rdl: 1.23kit [00:01, 1.00kit/s]\n").first
        #expect(event == ProgressEvent(key: "dl", current: 1230, unit: "it", rate: 1000, label: "dl"))
    }

    @Test func keepsBracketsInTheDescriptionAndReadsHours() {
        let event = progressEvents(in: "\r[gpu0] epoch 1:  50%|#####     | 5/10 [1:02:03<2:00:00,  1.00it/s]\n").first
        #expect(event?.key == "[gpu0] epoch 1")
        #expect(event?.etaSeconds == 7200)
    }

    @Test func tqdmWriteLinesBetweenRedrawsLeaveTheBarAlone() {
        let events = progressEvents(
            in: "\rtrain:  16%|#6        | 49/300 [00:00<00:03, 65.90it/s]\r" + String(repeating: " ", count: 40)
                + "\rINFO step 50: loss=0.0200\r\n\rtrain:  16%|#6        | 49/300 [00:00<00:03, 65.90it/s]"
                + "\rtrain:  19%|#8        | 56/300 [00:00<00:03, 65.84it/s]\r\n")
        #expect(events.map(\.current) == [49, 56])
        #expect(events.allSatisfy { $0.key == "train" })
    }

    @Test func keepsNestedBarsApartByDescription() {
        var parser = ProgressParser()
        let events = parser.feed(
            Array(
                ("\repochs:   0%|          | 0/3 [00:00<?, ?it/s]\n"
                    + "\repoch 0:  50%|#####     | 50/100 [00:00<00:00, 66.0it/s]\u{1B}[A\n"
                    + "\r                                \u{1B}[A"
                    + "\repochs:  33%|###3      | 1/3 [00:01<00:03,  1.52s/it]\n")
                    .utf8))
        #expect(events.map(\.key) == ["epochs", "epoch 0", "epochs"])
        #expect(parser.latest["epochs"]?.current == 1)
        #expect(parser.latest["epoch 0"]?.current == 50)
    }

    @Test func keepsNestedBarsWithoutDescriptionApartByRow() {
        var parser = ProgressParser()
        let events = parser.feed(
            Array(
                ("\r  0%|          | 0/3 [00:00<?, ?it/s]\n"
                    + "\r  0%|          | 0/100 [00:00<?, ?it/s]\u{1B}[A\n"
                    + "\r 50%|#####     | 50/100 [00:01<00:01, 50.0it/s]\u{1B}[A\n"
                    + "\r                    \u{1B}[A\r 33%|###       | 1/3 [00:02<00:04,  2.00s/it]\n").utf8))
        #expect(events.map(\.key) == ["tqdm", "tqdm#1", "tqdm#1", "tqdm"])
        #expect(parser.latest["tqdm"]?.current == 1)
        #expect(parser.latest["tqdm#1"]?.current == 50)
    }
}

/// A bar captioned with the counter it is part of (`epoch 4/6`): one bar for the whole run.
@Suite struct OuterCounterTests {
    @Test func foldsTheCaptionsCounterIntoTheBar() {
        let events = progressEvents(in: "\repoch 4/6:   2%|▏         | 6/300 [00:00<00:29,  9.87it/s, loss=0.1234]\n")
        // 3 epochs done and 6 steps of the 4th; this epoch's 29 s, then 2 more epochs of 300 steps at 9.87/s.
        #expect(
            events == [
                ProgressEvent(
                    key: "epoch", current: 906, total: 1800, unit: "it", rate: 9.87, etaSeconds: 29 + 600 / 9.87,
                    label: "epoch")
            ])
    }

    @Test func isDoneOnlyWhenTheLastEpochIs() {
        let events = progressEvents(
            in: "\repoch 6/6:   0%|          | 0/300 [00:00<?, ?it/s, loss=0.1234]"
                + "\repoch 6/6: 100%|██████████| 300/300 [00:30<00:00,  9.87it/s, loss=0.1]\n")
        #expect(events.map(\.current) == [1500, 1800])
        #expect(events.map(\.etaSeconds) == [nil, 0])
        #expect(events.map(\.key) == ["epoch", "epoch"])
    }

    @Test func leavesCaptionsWithoutACountWordAlone() {
        let events = progressEvents(in: "\rresnet-50 4/6:  50%|█████     | 150/300 [00:15<00:15, 9.87it/s]\n")
        #expect(events.map(\.key) == ["resnet-50 4/6"])
        #expect(events.map(\.current) == [150])
    }
}

/// A counter on a line of its own before the bar of its steps (Keras' `Epoch 3/4`): one bar for the whole run too.
@Suite struct OuterCounterLineTests {
    @Test func foldsAnUncaptionedBarIntoTheCounterAbove() {
        let events = progressEvents(
            in: "Epoch 3/4\n\r 44%|████▍     | 44/100 [00:04<00:03, 10.00it/s]\n")
        // 2 epochs done and 44 steps of the 3rd: 244 of 400 steps, 61%, not the 75% `3/4` says alone.
        #expect(events.last == ProgressEvent(
            key: "Epoch", current: 244, total: 400, unit: "it", rate: 10, etaSeconds: 3 + 100 / 10, label: "Epoch"))
        #expect(Set(events.map(\.key)) == ["Epoch"])
    }

    @Test func readsEpochNOfM() {
        let events = progressEvents(in: "epoch 3 of 4\n\r 50%|█████     | 50/100 [00:05<00:05, 10.00it/s]\n")
        #expect(events.last?.current == 250)
        #expect(events.last?.total == 400)
    }

    @Test func foldsKerasBarsAndStartsEachEpochWhereTheLastEnded() {
        let events = progressEvents(
            in: "Epoch 1/2\n\r 50/100 [==============>...............] - ETA: 5s - loss: 0.4"
                + "\r100/100 [==============================] - 10s 100ms/step - loss: 0.3\n"
                + "Epoch 2/2\n\r 50/100 [==============>...............] - ETA: 5s - loss: 0.2\n")
        #expect(events.map(\.current) == [1, 50, 100, 100, 150])
        #expect(events.dropFirst().allSatisfy { $0.total == 200 && $0.key == "Epoch" })
        #expect(events.last?.etaSeconds == 5)
    }

    @Test func leavesABarLongAfterTheCounterAlone() {
        let log = (1...OuterCounterLine.maxLinesWithoutBar + 1).map { "loading \($0)%\n" }.joined()
        let events = progressEvents(in: "Epoch 3/4\n" + log + "\r 44%|████▍     | 44/100 [00:04<00:03, 10.00it/s]\n")
        #expect(events.last?.key == "tqdm")
        #expect(events.last?.current == 44)
    }

    @Test func leavesACaptionedBarAndACounterInASentenceAlone() {
        let captioned = progressEvents(in: "Epoch 3/4\n\rtrain:  44%|████▍     | 44/100 [00:04<00:03, 10.00it/s]\n")
        #expect(captioned.map(\.key) == ["Epoch", "train"])
        let sentence = progressEvents(in: "resuming from epoch 3/4\n\r 44%|████▍     | 44/100 [00:04<00:03, 10.00it/s]\n")
        #expect(sentence.last?.key == "tqdm")
    }
}
