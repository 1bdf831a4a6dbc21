package gen_test

import (
	"fmt"

	"github.com/resolver-dev/resolver/internal/gen"
)

// The first two records of a tiny stream: a person's landing page view,
// sent personless by posthog-js with distinct_id and token in properties,
// then their next page view wrapped in the capture envelope.
func Example() {
	g := gen.New(gen.Config{Seed: 1, Users: 2, Teams: 1, EventsPerSession: 2})
	fmt.Println(g.Total(), "records")
	for range 2 {
		r, _ := g.Next()
		fmt.Printf("%s %s\n%s\n", r.Kind, r.Key, r.Value)
	}
	// Output:
	// 12 records
	// pageview phc_team1:01a19467-e800-7441-8ee9-57f0341893b3
	// {"uuid":"01a19467-e800-7a78-ad27-99ee4696b365","event":"$pageview","timestamp":"2026-11-01T00:00:00.000Z","properties":{"$os":"Linux","$browser":"Firefox","$browser_version":133,"$lib":"web","$session_id":"01a19467-e800-7507-8eea-be9f5f234f46","$device_id":"01a19467-e800-7441-8ee9-57f0341893b3","$current_url":"https://shop.example.com/products/sku-1042","$referrer":"https://news.ycombinator.com/","distinct_id":"01a19467-e800-7441-8ee9-57f0341893b3","token":"phc_team1","$process_person_profile":false}}
	// pageview phc_team1:01a19467-e800-7441-8ee9-57f0341893b3
	// {"uuid":"01a19469-37c9-7230-ad28-b2a182fa714d","distinct_id":"01a19467-e800-7441-8ee9-57f0341893b3","ip":"192.0.2.212","now":"2026-11-01T00:01:28.483Z","sent_at":"2026-11-01T00:01:28.483Z","token":"phc_team1","data":"{\"event\":\"$pageview\",\"properties\":{\"$os\":\"Linux\",\"$browser\":\"Firefox\",\"$browser_version\":133,\"$lib\":\"web\",\"$session_id\":\"01a19467-e800-7507-8eea-be9f5f234f46\",\"$device_id\":\"01a19467-e800-7441-8ee9-57f0341893b3\",\"$current_url\":\"https://shop.example.com/search?q=running+shoes\",\"distinct_id\":\"01a19467-e800-7441-8ee9-57f0341893b3\",\"token\":\"phc_team1\",\"$process_person_profile\":false},\"timestamp\":\"2026-11-01T00:01:25.961Z\",\"sent_at\":\"2026-11-01T00:01:28.483Z\"}"}
}
