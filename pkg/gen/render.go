package gen

var productCents = [...]int64{1999, 4950, 12950, 899, 25000}

var planCents = [...]int64{0, 900, 4900, 49900}

var badUUIDs = [...]string{"not-a-uuid", "0190c1a2-zzzz-7000-8000-000000000000", "0190c1a2-6b00-7000-8000-00000000a0"}

const (
	padKey = "pad"
)

// render writes e as JSON into g.in, and the final record value into g.out.
func (g *Generator) render(u *user, e *ev) {
	g.seq++
	appendUUIDv7(g.uuid[:0], e.ms, mix(g.seed^g.seq*golden), g.seed>>40, false)
	d := u.dev
	tok := g.tokens[u.team]
	noTeam := e.defect == defNoTeam

	w := &g.in
	w.reset()
	w.open()
	if !e.env {
		if e.defect == defBadUUID {
			w.str("uuid", badUUIDs[e.defVariant])
		} else {
			w.key("uuid")
			w.b = append(w.b, '"')
			w.b = append(w.b, g.uuid[:]...)
			w.b = append(w.b, '"')
		}
	}
	if e.defect == defBadEvent {
		switch e.defVariant {
		case 0:
			w.str("event", "")
		case 1:
			w.raw("event", "null")
		}
	} else {
		w.str("event", e.name)
	}
	if e.shape != shapeWeb {
		g.writeDID(w, e)
		if !noTeam {
			if e.shape == shapeMobile {
				w.str("api_key", tok)
			} else {
				w.str("token", tok)
			}
		}
	}
	if usesTeamID(u.team) && !noTeam {
		if u.r.intn(5) == 0 {
			w.str("team_id", itoa(u.team))
		} else {
			w.int("team_id", int64(u.team))
		}
	}
	if !e.env {
		w.time("timestamp", e.ms)
	}
	w.obj("properties")
	g.writeProps(w, u, e)
	if e.shape == shapeWeb {
		g.writeDID(w, e)
		if !noTeam {
			w.str("token", tok)
		}
	}
	if e.personless {
		w.bool("$process_person_profile", false)
	}
	if e.body == bodyIdentify && !e.setTop {
		g.writeIdentifySet(w, e)
	}
	propsEnd := len(w.b)
	w.close()
	if e.body == bodyIdentify && e.setTop {
		g.writeIdentifySet(w, e)
	}
	var delay int64
	if e.env {
		delay = int64(u.r.intn(3000))
		w.time("timestamp", e.ms+d.skew)
		w.time("sent_at", e.ms+d.skew+delay)
	}
	w.close()

	switch e.defect {
	case defTruncate:
		g.out.b = append(g.out.b[:0], w.b[:1+u.r.intn(len(w.b)-2)]...)
		return
	case defArray:
		g.out.b = append(append(append(g.out.b[:0], '['), w.b...), ']')
		return
	case defBadData:
		w.b = w.b[:1+u.r.intn(len(w.b)-2)]
	}

	if !e.env {
		if n := g.cfg.PadBytes - len(w.b) - len(`,"`+padKey+`":""`); n > 0 && e.defect == defNone {
			w.b = g.insertPad(w.b, propsEnd, n)
		}
		g.out.b = append(g.out.b[:0], w.b...)
		return
	}

	o := &g.out
	o.reset()
	o.open()
	o.key("uuid")
	o.b = append(o.b, '"')
	o.b = append(o.b, g.uuid[:]...)
	o.b = append(o.b, '"')
	o.str("distinct_id", e.did)
	o.str("ip", d.ip)
	o.time("now", e.ms+delay)
	o.time("sent_at", e.ms+d.skew+delay)
	o.str("token", tok)
	o.key("data")
	if e.defect == defNone {
		final := len(o.b) + 1 + escapedLen(w.b) + 2
		if n := g.cfg.PadBytes - final - len(`,\"`+padKey+`\":\"\"`); n > 0 {
			w.b = g.insertPad(w.b, propsEnd, n)
		}
	}
	o.b = append(o.b, '"')
	o.b = appendEscapedBytes(o.b, w.b)
	o.b = append(o.b, '"')
	o.close()
}

// insertPad inserts `,"pad":"<n characters>"` into b at i.
func (g *Generator) insertPad(b []byte, i, n int) []byte {
	head := `,"` + padKey + `":"`
	ins := len(head) + n + 1
	old := len(b)
	b = append(b, make([]byte, ins)...)
	copy(b[i+ins:], b[i:old])
	j := i + copy(b[i:], head)
	off := int(g.seq*golden>>40) % len(g.pad)
	for end := j + n; j < end; off = 0 {
		j += copy(b[j:end], g.pad[off:])
	}
	b[j] = '"'
	return b
}

// writeDID writes the distinct_id where e's shape puts it.
func (g *Generator) writeDID(w *jw, e *ev) {
	if e.defect == defNoDID {
		switch e.defVariant {
		case 0: // missing
		case 1:
			w.str("distinct_id", "")
		case 2:
			w.str("distinct_id", "   ")
		case 3:
			w.raw("distinct_id", "null")
		case 4:
			w.raw("distinct_id", "{}")
		default:
			w.raw("distinct_id", "[]")
		}
		return
	}
	if e.didNum {
		w.raw("distinct_id", e.did)
		return
	}
	w.str("distinct_id", e.did)
}

func (g *Generator) writeIdentifySet(w *jw, e *ev) {
	p := e.who
	w.obj("$set")
	w.str("email", p.email)
	w.key("name")
	w.b = append(w.b, '"')
	w.b = appendEscaped(w.b, p.first)
	w.b = append(w.b, ' ')
	w.b = appendEscaped(w.b, p.last)
	w.b = append(w.b, '"')
	w.str("plan", plans[e.plan])
	w.close()
	w.obj("$set_once")
	w.str("initial_plan", plans[e.plan])
	w.close()
}

func (w *jw) url(k, host, path string) {
	w.key(k)
	w.b = append(w.b, `"https://`...)
	w.b = append(w.b, host...)
	w.b = append(w.b, path...)
	w.b = append(w.b, '"')
}

// writeProps writes the SDK's and the event's own properties.
func (g *Generator) writeProps(w *jw, u *user, e *ev) {
	d := u.dev
	switch e.shape {
	case shapeWeb:
		p := d.web
		w.str("$os", p.os)
		w.str("$browser", p.browser)
		w.int("$browser_version", p.version)
		w.str("$lib", "web")
	case shapeMobile:
		p := d.app
		w.str("$os", p.os)
		w.str("$os_version", p.osVersion)
		w.str("$device_model", p.model)
		w.str("$lib", p.lib)
	case shapeServer:
		w.str("$lib", e.lib.lib)
		w.str("$lib_version", e.lib.version)
	}
	if e.shape != shapeServer {
		w.str("$session_id", u.sessionID)
		w.str("$device_id", d.id)
	}
	host := hosts[(u.team-1)%len(hosts)]
	page := func() {
		if e.shape == shapeMobile {
			w.str("$screen_name", screens[u.page%len(screens)])
			return
		}
		w.url("$current_url", host, paths[u.page])
	}
	switch e.body {
	case bodyPageview:
		page()
		if e.landing {
			w.str("$referrer", referrers[u.r.intn(len(referrers))])
		}
	case bodyPageleave:
		page()
		w.int("$prev_pageview_duration", int64(1+u.r.intn(300)))
	case bodyScreen:
		page()
	case bodyAutocapture:
		page()
		if e.shape == shapeMobile {
			w.str("$event_type", "touch")
			w.int("$touch_x", int64(u.r.intn(390)))
			w.int("$touch_y", int64(u.r.intn(844)))
		} else {
			w.str("$event_type", "click")
			w.str("$elements_chain", elementsChains[u.r.intn(len(elementsChains))])
		}
	case bodyCustom:
		page()
		switch e.variant {
		case 0:
			w.str("button", buttons[u.r.intn(len(buttons))])
		case 1:
			i := u.r.intn(len(products))
			w.str("product_id", products[i])
			w.cents("price", productCents[i])
		case 2:
			w.str("product_id", products[u.r.intn(len(products))])
			w.int("quantity", int64(1+u.r.intn(3)))
		case 3:
			v := int64(500 + u.r.intn(50000))
			w.cents("cart_value", v)
			if !e.personless && u.r.chance(0.3) {
				w.obj("$set")
				w.cents("last_cart_value", v)
				w.close()
			}
		default:
			w.str("query", queries[u.r.intn(len(queries))])
		}
	case bodyServer:
		switch e.variant {
		case 0:
			w.str("order_id", "ord_"+itoa(int(g.seq)))
			w.cents("revenue", int64(500+u.r.intn(50000)))
			w.str("currency", "USD")
		default:
			w.str("plan", plans[u.plan])
			w.cents("revenue", planCents[u.plan])
		}
	case bodySet:
		w.obj("$set")
		w.str("theme", [...]string{"light", "dark", "system"}[u.r.intn(3)])
		w.str("locale", [...]string{"en-US", "de-DE", "pt-BR", "ja-JP"}[u.r.intn(4)])
		w.close()
	case bodyExcluded:
		switch e.variant {
		case 0:
			w.str("$feature_flag", flags[u.r.intn(len(flags))])
			w.raw("$feature_flag_response", flagResponses[u.r.intn(len(flagResponses))])
		case 1:
			x := exceptions[u.r.intn(len(exceptions))]
			page()
			w.str("$exception_type", x.typ)
			w.str("$exception_message", x.msg)
		default:
			s := u.r.intn(len(surveyNames))
			w.str("$survey_id", "survey-"+itoa(s+1))
			w.str("$survey_name", surveyNames[s])
			if e.variant == 3 {
				w.str("$survey_response", itoa(u.r.intn(11)))
			}
		}
	case bodyIdentify:
		w.str("$anon_distinct_id", e.anon)
	case bodyAlias:
		w.str("alias", e.alias)
	}
}
