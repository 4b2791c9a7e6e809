import Foundation
import KafkaWorker
import Testing

@Suite struct InMemoryStoreTests {
    @Test func secondInsertOfAKeyIsADuplicateAndARolledBackOneIsNot() async throws {
        let store = InMemoryIdempotencyStore()
        let marker = ProcessedMarker(group: "g", key: "order-1", topic: "t", partition: 0, offset: 1)
        let first = try await store.withMarkers([marker]) { _, fresh in fresh }
        #expect(first == [true])
        let again = try await store.withMarkers([marker]) { _, fresh in fresh }
        #expect(again == [false])
        let other = ProcessedMarker(group: "g", key: "order-2", topic: "t", partition: 0, offset: 2)
        await #expect(throws: NonRetriableError.self) {
            try await store.withMarkers([other]) { _, _ in throw NonRetriableError("rejected") }
        }
        #expect(!store.contains(group: "g", key: "order-2"))
    }
}
