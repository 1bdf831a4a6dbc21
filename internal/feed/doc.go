// Package feed is the wire format of the warehouse feeds the resolver
// writes: the person rows (topic persons), the distinct-id rows
// (person_distinct_ids) and the ingestion warnings (ingestion_warnings), as
// JSON whose field names are the warehouse tables' column names
// (docs/SEMANTICS.md §6; configs/clickhouse).
//
// It is its own package because two sides share it: package stream writes
// these rows, and package warehouse (the Go model of the ClickHouse tables)
// and every test that folds the feeds read them. It is internal because the
// rows' public names are package stream's aliases (stream.PersonRow,
// stream.DistinctIDRow, stream.WarningRow): a program that reads the feeds
// names them there, and this package's helpers (FromPerson, FormatMillis)
// are the pipeline's own.
//
// The row types and From… define the rows; the pipeline writes them with
// AppendPerson, AppendDistinctID and AppendMerge (and their keys), which
// write exactly json.Marshal's bytes for those rows without building them
// (json.go).
package feed
