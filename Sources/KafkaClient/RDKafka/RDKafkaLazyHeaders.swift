internal import Crdkafka
import Dispatch
import Synchronization

/// Headers of a fetched batch, parsed on first use.
///
/// librdkafka allocates while parsing a record's headers even when it has none, which made header parsing the
/// largest single cost of reading a record. Most handlers never look at headers, so the batch's messages are kept
/// and a record's headers parsed when asked for. Kept messages hold librdkafka's fetched data and the client, so
/// they are let go as soon as possible: when the batch's records are all gone, when they are older than
/// ``RDKafkaHeaderRegistry/maximumAge`` (the poll thread parses what is left), and when the consumer closes.
final class RDKafkaLazyHeaders: KafkaHeaderSource {
    /// `@unchecked Sendable`: the message pointers are only touched under the lock, and destroyed once.
    private struct State: @unchecked Sendable {
        var messages: [UnsafeMutablePointer<rd_kafka_message_t>] = []
        var parsed: [[KafkaHeader]?]
        /// Keeps `rd_kafka_destroy` from running while messages are kept.
        var client: RDKafkaClient?
    }

    private let state: Mutex<State>
    private let registry: RDKafkaHeaderRegistry
    /// `DispatchTime` uptime when the batch was read.
    let created: UInt64

    init(messages: [UnsafeMutablePointer<rd_kafka_message_t>], client: RDKafkaClient, registry: RDKafkaHeaderRegistry) {
        state = Mutex(State(messages: messages, parsed: Array(repeating: nil, count: messages.count), client: client))
        self.registry = registry
        created = DispatchTime.now().uptimeNanoseconds
        registry.add(self)
    }

    deinit {
        state.withLock { Self.destroyMessages(&$0) }
    }

    func headers(at slot: Int) -> [KafkaHeader] {
        state.withLock { state in
            if let parsed = state.parsed[slot] { return parsed }
            // Messages are only let go after every slot is parsed (`release`) or with the block (`blockEnded`).
            let headers = Self.parse(state.messages[slot])
            state.parsed[slot] = headers
            return headers
        }
    }

    /// Parses the headers not asked for yet and lets the messages go.
    func release() {
        state.withLock { state in
            guard !state.messages.isEmpty else { return }
            for slot in state.parsed.indices where state.parsed[slot] == nil {
                state.parsed[slot] = Self.parse(state.messages[slot])
            }
            Self.destroyMessages(&state)
        }
    }

    func blockEnded() {
        registry.remove(self)
        // The poll thread frees them, as a plain librdkafka loop would: lanes only drop their records.
        let retired = state.withLock { state in
            defer {
                state.messages = []
                state.client = nil
            }
            return RDKafkaRetiredMessages(messages: state.messages, client: state.client)
        }
        if !retired.messages.isEmpty { registry.retire(retired) }
    }

    private static func destroyMessages(_ state: inout State) {
        for message in state.messages { rd_kafka_message_destroy(message) }
        state.messages = []
        state.client = nil
    }

    static func parse(_ message: UnsafePointer<rd_kafka_message_t>) -> [KafkaHeader] {
        var list: OpaquePointer?
        guard rd_kafka_message_headers(message, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return [] }
        var result: [KafkaHeader] = []
        var index = 0
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(list, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            result.append(KafkaHeader(name: name.map { String(cString: $0) } ?? "",
                                      value: value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }))
            index += 1
        }
        return result
    }
}

/// Messages whose records are gone, waiting for the poll thread to free them.
/// `@unchecked Sendable`: handed from the lane that dropped the last record to the poll thread, touched by one at a time.
struct RDKafkaRetiredMessages: @unchecked Sendable {
    var messages: [UnsafeMutablePointer<rd_kafka_message_t>]
    /// Keeps `rd_kafka_destroy` from running before they are freed.
    var client: RDKafkaClient?
}

/// The lazily parsed header sets of one consumer that still keep messages, and messages to free.
final class RDKafkaHeaderRegistry: Sendable {
    /// How long a batch's messages are kept for its headers before they are parsed and let go.
    static let maximumAge: UInt64 = 1_000_000_000

    private let sources = Mutex<[ObjectIdentifier: RDKafkaLazyHeaders]>([:])
    private let retired = Mutex<[RDKafkaRetiredMessages]>([])
    /// Whether the poll thread is there to free retired messages; after it ended, they are freed at once.
    private let collecting = Atomic<Bool>(true)
    private let lastSweep = Atomic<UInt64>(0)

    func add(_ source: RDKafkaLazyHeaders) {
        sources.withLock { $0[ObjectIdentifier(source)] = source }
    }

    func remove(_ source: RDKafkaLazyHeaders) {
        _ = sources.withLock { $0.removeValue(forKey: ObjectIdentifier(source)) }
    }

    /// Batches whose messages are kept for headers (for tests and diagnostics).
    var keptBatches: Int { sources.withLock { $0.count } }
    /// Batches whose messages wait for the poll thread to free them.
    var retiredBatches: Int { retired.withLock { $0.count } }

    /// Parses and lets go of batches older than ``maximumAge`` (poll thread, at most every quarter of it).
    func sweep(now: UInt64 = DispatchTime.now().uptimeNanoseconds) {
        let last = lastSweep.load(ordering: .relaxed)
        guard now &- last >= Self.maximumAge / 4 else { return }
        lastSweep.store(now, ordering: .relaxed)
        let old = sources.withLock { sources in
            let old = sources.values.filter { now &- $0.created >= Self.maximumAge }
            for source in old { sources.removeValue(forKey: ObjectIdentifier(source)) }
            return old
        }
        for source in old { source.release() }
    }

    /// Hands messages to the poll thread to free (``freeRetired()``).
    func retire(_ messages: RDKafkaRetiredMessages) {
        let queued = retired.withLock { retired -> Bool in
            guard collecting.load(ordering: .relaxed) else { return false }
            retired.append(messages)
            return true
        }
        if !queued { Self.free(messages) }
    }

    /// Frees retired messages (poll thread, once per poll round).
    func freeRetired() {
        let taken = retired.withLock { retired -> [RDKafkaRetiredMessages] in
            guard !retired.isEmpty else { return [] }
            defer { retired.removeAll(keepingCapacity: true) }
            return retired
        }
        for messages in taken { Self.free(messages) }
    }

    private static func free(_ retired: RDKafkaRetiredMessages) {
        for message in retired.messages { rd_kafka_message_destroy(message) }
    }

    /// Parses and lets go of everything kept, frees what is retired, and from now on frees retired messages at
    /// once (the consumer is closing; its handle must outlive no message).
    func releaseAll() {
        retired.withLock { _ in collecting.store(false, ordering: .relaxed) }
        freeRetired()
        let all = sources.withLock { sources in
            defer { sources.removeAll() }
            return Array(sources.values)
        }
        for source in all { source.release() }
    }
}
