package event

// Warning is an ingestion warning raised while decoding; the event is still
// processed. Type is one of the Warn… constants; Details is for people.
type Warning struct {
	Type    string
	Details string
}

// Warning types Decode raises (docs/SEMANTICS.md §1–2).
const (
	// WarnDistinctIDTruncated: the distinct_id was over MaxDistinctIDRunes
	// characters and was cut.
	WarnDistinctIDTruncated = "distinct_id_truncated"
	// WarnTimestampInFuture: the timestamp was more than FutureCutoff after
	// the processing time and was clamped to it.
	WarnTimestampInFuture = "timestamp_in_future"
	// WarnInvalidTimestamp: timestamp, sent_at, now or offset was present but
	// unusable, and was treated as absent. Details names the field.
	WarnInvalidTimestamp = "invalid_timestamp"
	// WarnInvalidProcessPersonProfile: properties.$process_person_profile
	// was neither true nor false; the event is processed in full.
	WarnInvalidProcessPersonProfile = "invalid_process_person_profile"
)
