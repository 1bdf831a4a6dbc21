// Package jsonlit reads and writes the JSON literals that this module
// handles by hand rather than through encoding/json: strings, numbers,
// times written as RFC 3339 strings, and UUIDs.
//
// The decoder in pkg/event, the stamped events it writes, the person
// properties of pkg/unionfind, the op values of pkg/resolve and the
// synthetic records of internal/gen all go through it, so that a string is
// escaped one way, a number is one grammar and a time is one spelling
// wherever the module writes them.
//
// # Strings
//
// AppendString is the module's one escaping policy: what encoding/json
// writes with SetEscapeHTML(false), except that \b and \f are written
// \u0008 and \u000c, as stamped events always have been. '<', '>' and '&'
// are not escaped: the output is read by Kafka consumers and ClickHouse,
// never pasted into HTML.
//
// AppendMarshalString is the one exception, kept byte for byte: the keys of
// a person's properties are written exactly as json.Marshal writes them
// (HTML-escaped, \b and \f short), because those bytes are stored (they are
// in every persons row and every stamped event's person_properties) and
// their length decides which writes the person-properties size cap
// refuses (MarshalStringLen). Writing them the house way would change both
// for any key holding '<', '>', '&', \b or \f.
//
// # Numbers
//
// ScanNumber and IsNumber follow the number grammar of RFC 8259 §6
// exactly, as encoding/json and json.Valid do.
//
// # UUIDs
//
// ParseUUID reads the 36-character form of a UUID, either case, as the
// event decoder takes an event's uuid and the lineage codec of pkg/state
// packs a canonical one into 16 bytes. AppendUUID writes the canonical
// form (uuid.UUID.String's) into a buffer: stamped events and feed rows.
//
// # Times
//
// AppendTime and AppendMillis write RFC 3339 in UTC with four-digit
// years, clamping instants outside 0000–9999 to that range; they differ
// only in the fraction (see each).
package jsonlit
