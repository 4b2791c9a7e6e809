import Foundation
@testable import KafkaClient
import KafkaWorkerTesting
import Testing

@Suite("Record storage: shared byte views and headers parsed on first use", .timeLimit(.minutes(2)))
struct RecordStorageTests {
    @Test("a byte view is a zero-based collection equal to the same bytes however they are stored")
    func bytesView() {
        let storage: [UInt8] = Array("..hello..".utf8)
        let view = KafkaBytes(storage: storage, start: 2, count: 5)
        #expect(view.startIndex == 0 && view.endIndex == 5 && view.count == 5)
        #expect(view[0] == UInt8(ascii: "h") && view[4] == UInt8(ascii: "o"))
        #expect(Array(view) == Array("hello".utf8))
        #expect(String(decoding: view, as: UTF8.self) == "hello")
        #expect(Data(view) == Data("hello".utf8))
        #expect(view.utf8String == "hello")
        #expect(view == KafkaBytes(utf8: "hello"))
        #expect(view.hashValue == KafkaBytes(utf8: "hello").hashValue)
        #expect(view != KafkaBytes(utf8: "hellO"))
        #expect(view.withUnsafeBytes { $0.count } == 5)
        #expect(view.withContiguousStorageIfAvailable { Array($0) } == Array("hello".utf8))
        #expect(KafkaBytes([0xFF, 0xFE]).utf8String == nil)
        #expect([1, 2, 3] as KafkaBytes == KafkaBytes([1, 2, 3]))
        #expect(KafkaBytes([]).isEmpty)
    }

    @Test("descriptions give sizes, never contents")
    func descriptionsHideContents() {
        let record = KafkaRecord(topic: "orders", partition: 2, offset: 7, key: KafkaBytes(utf8: "customer-9"),
                                 value: KafkaBytes(utf8: #"{"card":"4111-1111"}"#), headers: [KafkaHeader(name: "h", string: "x")])
        #expect(record.description == "KafkaRecord(orders/2@7, key: 10 bytes, value: 20 bytes, headers: 1)")
        #expect(!"\(record)".contains("4111") && !"\(record.value!)".contains("4111"))
    }

    @Test("setting a field of a copy changes the copy only")
    func valueSemantics() {
        let original = KafkaRecord(topic: "t", partition: 0, offset: 1, key: [1], value: [2],
                                   headers: [KafkaHeader(name: "a", string: "1")])
        var copy = original
        copy.value = [9, 9]
        copy.key = nil
        copy.headers.append(KafkaHeader(name: "b", string: "2"))
        copy.topic = "u"
        #expect(original.key == [1] && original.value == [2] && original.headers.count == 1 && original.topic == "t")
        #expect(copy.key == nil && copy.value == [9, 9] && copy.headers.count == 2 && copy.topic == "u")
        #expect(copy != original)
        copy = original
        #expect(copy == original && Set([copy, original]).count == 1)
    }

    @Test("a block asks for a record's headers only when they are read, once, and ends with its last record")
    func blockEndsWithItsLastRecord() {
        final class Source: KafkaHeaderSource, @unchecked Sendable {
            var asked: [Int] = []
            var ended = 0
            func headers(at slot: Int) -> [KafkaHeader] {
                asked.append(slot)
                return [KafkaHeader(name: "slot", string: "\(slot)")]
            }
            func blockEnded() { ended += 1 }
        }
        let source = Source()
        var records: [KafkaRecord]? = {
            let storage = Array("k0v0k1v1".utf8)
            let slots = [KafkaRecordBlock.Slot(topic: 0, key: 0..<2, value: 2..<4, headers: nil),
                         KafkaRecordBlock.Slot(topic: 0, key: 4..<6, value: 6..<8, headers: nil)]
            let block = KafkaRecordBlock(topics: ["t"], slots: slots, storage: storage, headerSource: source)
            return [KafkaRecord(block: block, slot: 0, partition: 0, offset: 0, timestamp: nil),
                    KafkaRecord(block: block, slot: 1, partition: 0, offset: 1, timestamp: nil)]
        }()
        #expect(records?.map { $0.valueString } == ["v0", "v1"] && source.asked.isEmpty)
        #expect(records?[1].header("slot")?.stringValue == "1")
        #expect(source.asked == [1])
        var kept = records?[0]
        records = nil
        #expect(source.ended == 0, "a copy of one record keeps the block")
        kept?.value = [1]
        #expect(source.ended == 1, "setting a field moved the last record off the block")
        #expect(kept?.key == KafkaBytes(utf8: "k0") && kept?.value == [1] && kept?.header("slot")?.stringValue == "0")
        #expect(source.asked == [1, 0])
    }

    @Test("records of one fetch share their storage; every key, value and header is its own")
    func fetchedBatch() async throws {
        let topic = try KafkaTesting.topic("block", partitions: 2)
        let producer = try KafkaTesting.producer()
        let sent = (0..<300).map { index in
            KafkaProducerRecord(topic: topic, partition: Int32(index % 2), key: index % 10 == 0 ? nil : "k\(index)",
                                value: index % 7 == 0 ? nil : String(repeating: "v\(index)", count: index % 5),
                                headers: index % 3 == 0 ? [KafkaHeader(name: "n", string: "\(index)")] : [])
        }
        for result in await producer.sendAll(sent) { _ = try result.get() }
        await producer.close()

        let consumer = try await KafkaTesting.consumer(subscribedTo: topic)
        var received = try await KafkaTesting.collect(300, from: consumer)
        for record in received {
            let index = Int(record.offset) * 2 + Int(record.partition)
            #expect(record.key == sent[index].key && record.value == sent[index].value, "record \(index)")
            #expect(record.headers == sent[index].headers, "record \(index)")
        }
        #expect(consumer.core.headerRegistry.keptBatches > 0)
        // The records gone, their batches' messages are let go. (The collecting task may hold its result a moment
        // longer than the test does, hence the wait; `blockEndsWithItsLastRecord` checks the moment exactly.)
        received = []
        try await waitUntil(.seconds(10)) { consumer.core.headerRegistry.keptBatches == 0 }
        await consumer.close()
        #expect(consumer.core.headerRegistry.keptBatches == 0 && consumer.core.headerRegistry.retiredBatches == 0)
    }

    @Test("headers asked for after the consumer closed or after the batch aged out are still there")
    func headersOutliveTheirMessages() async throws {
        let topic = try KafkaTesting.topic("late-headers")
        let producer = try KafkaTesting.producer()
        let sent = (0..<20).map { KafkaProducerRecord(topic: topic, key: "k", value: "v\($0)", headers: [KafkaHeader(name: "i", string: "\($0)")]) }
        for result in await producer.sendAll(sent) { _ = try result.get() }
        await producer.close()

        let consumer = try await KafkaTesting.consumer(subscribedTo: topic)
        let held = try await KafkaTesting.collect(20, from: consumer)
        #expect(consumer.core.headerRegistry.keptBatches > 0)
        // Held past the maximum age: the poll thread parses what is left and lets the messages go.
        try await waitUntil(.seconds(10)) { consumer.core.headerRegistry.keptBatches == 0 }
        #expect(held.map { $0.header("i")?.stringValue } == (0..<20).map { "\($0)" })

        // A second consumer, closed before anything is asked for.
        let second = try await KafkaTesting.consumer(subscribedTo: topic)
        let afterClose = try await KafkaTesting.collect(20, from: second)
        await second.close()
        await consumer.close()
        #expect(second.core.headerRegistry.keptBatches == 0)
        #expect(afterClose.map(\.headers) == sent.map(\.headers))
    }

    @Test("headers read from many tasks while the poll thread lets the messages go are all correct")
    func concurrentHeaderReads() async throws {
        let topic = try KafkaTesting.topic("headers-race", partitions: 3)
        let producer = try KafkaTesting.producer()
        let sent = (0..<3_000).map {
            KafkaProducerRecord(topic: topic, partition: Int32($0 % 3), key: "k", value: "\($0)",
                                headers: [KafkaHeader(name: "n", string: "\($0)")])
        }
        for result in await producer.sendAll(sent) { _ = try result.get() }
        await producer.close()
        let consumer = try await KafkaTesting.consumer(subscribedTo: topic)
        let records = try await KafkaTesting.collect(3_000, from: consumer)
        let registry = consumer.core.headerRegistry
        let mismatches = try await withThrowingTaskGroup(of: Int.self) { group in
            for reader in 0..<6 {
                group.addTask {
                    var wrong = 0
                    let order = reader % 2 == 0 ? Array(records.indices) : records.indices.reversed()
                    for index in order where records[index].header("n")?.stringValue != records[index].valueString {
                        wrong += 1
                    }
                    return wrong
                }
            }
            group.addTask {
                // As the poll thread does when batches age out: parse what is left and free the messages.
                registry.sweep(now: DispatchTime.now().uptimeNanoseconds + 10 * RDKafkaHeaderRegistry.maximumAge)
                return 0
            }
            return try await group.reduce(0, +)
        }
        #expect(mismatches == 0)
        #expect(registry.keptBatches == 0)
        await consumer.close()
    }

    private func waitUntil(_ limit: Duration, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + limit
        while !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("condition not met within \(limit)")
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
