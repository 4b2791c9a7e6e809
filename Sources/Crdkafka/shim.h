#ifndef KAFKA_WORKER_CRDKAFKA_SHIM_H
#define KAFKA_WORKER_CRDKAFKA_SHIM_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

// Swift cannot call C variadic functions. These static inline wrappers give the
// variadic entry points we use a fixed signature.

/// Produces one message through `rd_kafka_producev`.
/// `partition` may be RD_KAFKA_PARTITION_UA; `timestamp_ms` 0 means "now";
/// `headers` (may be NULL) is owned by librdkafka when this returns 0.
static inline rd_kafka_resp_err_t
kw_produce(rd_kafka_t *rk, const char *topic, int32_t partition,
           const void *key, size_t key_len,
           const void *value, size_t value_len,
           rd_kafka_headers_t *headers, int64_t timestamp_ms,
           void *opaque) {
    /* A NULL headers argument leaves the record without headers. */
    return rd_kafka_producev(rk,
                             RD_KAFKA_V_TOPIC(topic),
                             RD_KAFKA_V_PARTITION(partition),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_KEY(key, key_len),
                             RD_KAFKA_V_VALUE((void *)value, value_len),
                             RD_KAFKA_V_HEADERS(headers),
                             RD_KAFKA_V_TIMESTAMP(timestamp_ms),
                             RD_KAFKA_V_OPAQUE(opaque),
                             RD_KAFKA_V_END);
}

/// Pushes one error (with a round-trip time) for one API key on one mock broker.
static inline rd_kafka_resp_err_t
kw_mock_broker_push_request_error_rtt(rd_kafka_mock_cluster_t *mcluster,
                                      int32_t broker_id, int16_t api_key,
                                      rd_kafka_resp_err_t err, int rtt_ms) {
    return rd_kafka_mock_broker_push_request_error_rtts(mcluster, broker_id,
                                                        api_key, 1, err, rtt_ms);
}

#endif
