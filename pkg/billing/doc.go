// Package billing counts person-stamped events per team, calendar month and
// billing class, and prices them with graduated tiers (docs/SEMANTICS.md §7). It
// is plain Go: no Kafka, Badger or config library. The pipeline meters
// events and produces the deltas, a view folds them into totals, and the CLI
// and admin endpoint render reports; all of that lives elsewhere and calls
// in here.
//
// # Classes and months
//
// A Classifier gives every stamped event a Class: Excluded if its name is on
// the excluded list (DefaultExcludedEvents), else Anonymous for person_mode
// "propertyless" and Identified for "full" and "force_upgrade". Month gives
// the calendar month of the event's timestamp in UTC, "YYYY-MM".
//
// # Metering and deltas
//
// A Meter (one per partition worker; not safe for concurrent use) adds up the
// events of a batch per Key (team, month, class). Its Deltas, in a fixed
// order, are the values of the batch's billing_usage records,
// {"team","month","class","count"}, produced in the batch's transaction; the
// consumer of billing_usage checks each against Delta.Validate's bounds
// (team, month, class, count: anyone who can write the topic can forge a
// record) and adds its Count to the total of its Key with a checked add.
//
// # Pricing deltas
//
// The cost of a month is a function of the month's total only: for each
// class, the events numbered 1..UpTo of the first tier cost its UnitPrice
// each, the next ones the second tier's, and so on (Pricing.Cost). Deltas are
// therefore never priced on their own and their costs never added: that
// would start every delta at the first (free) tier again. Reports price the
// totals; where the cost of one delta is wanted, DeltaCost prices it against
// the running total before it, Cost(before+delta) − Cost(before), and those
// marginal costs do add up to the month's cost. A delta that crosses a tier
// boundary is thus split across the two tiers exactly.
//
// # Money
//
// Money is an int64 count of nano-dollars: exact for every default price
// (the finest is $0.0000343) and for every events × price product, with room
// for $9.2 billion per amount; arithmetic on it is overflow-checked. Prices
// are read from decimal text by ParsePrice and written by FormatUSD, never
// through a float. See Money for the reasoning.
//
// # Configuration
//
// Tiers come from DefaultPricing or from a TierFile (the billing.tiers config
// section, or a --tiers file read by LoadTiersJSON). Validation errors are
// *ConfigError values naming the key ("billing.tiers.identified[2].up_to")
// and the bad value; IsConfigError recognises them.
//
// # Reports and simulations
//
// NewReport turns totals into a Statement per team and month: the counts per
// class, the cost per class by tier, the total, and what the billed events
// would cost if all were identified. Simulate prices a hypothetical month
// split between identified and anonymous events. Both render as a table,
// JSON (amounts as exact decimal strings) and, for reports, CSV.
package billing
