package main

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
)

// The compression workload: JSON chat messages, made from a fixed seed so
// that every run and every library sees the same bytes. Words are drawn
// with a skew towards the start of the list, as common words are in real
// text, so the messages compress as chat does, not as random letters or a
// repeated string would.

var chatWords = strings.Fields(`
the to and a of I you it is in that for on we this be have with not
are was just so but at if do can my me what your all get like will
they know about up there out one think from now good time when see
yes no ok thanks please sure maybe today tomorrow meeting call later
lunch coffee deploy build test release branch merge review ticket bug
fix issue server client latency error log metrics dashboard alert
customer team project plan design doc update status ready done
blocked waiting question answer idea problem quick sync standup
weekend morning afternoon evening week month again still already
really actually probably definitely great nice cool awesome sorry
happy looks sounds works broken slow fast new old big small first
last next right left because before after while until since though
check push pull ship rollback restart config cache queue database
`)

var chatUsers = []string{
	"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
	"ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil",
}

var chatRooms = []string{"general", "random", "ops", "dev", "support", "release-2024"}

// chatMessage is one message as a chat server would relay it.
type chatMessage struct {
	Type   string `json:"type"`
	ID     uint64 `json:"id"`
	Room   string `json:"room"`
	User   string `json:"user"`
	TS     int64  `json:"ts"`
	Text   string `json:"text"`
	Edited bool   `json:"edited"`
}

// chatGen makes chat messages from a seed.
type chatGen struct {
	r  *rand.Rand
	id uint64
	ts int64
}

func newChatGen(seed uint64) *chatGen {
	return &chatGen{r: rand.New(rand.NewPCG(seed, 0x6368617421)), id: 9_200_000, ts: 1_718_000_000_000}
}

// skewed picks an index below n, small ones more often.
func (g *chatGen) skewed(n int) int {
	f := g.r.Float64()
	return int(f * f * float64(n))
}

func (g *chatGen) next() chatMessage {
	g.id++
	g.ts += int64(g.r.IntN(20_000))
	words := 26 + g.r.IntN(22)
	var b strings.Builder
	for i := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(chatWords[g.skewed(len(chatWords))])
	}
	if g.r.IntN(3) == 0 {
		b.WriteString("?")
	}
	return chatMessage{
		Type: "message",
		ID:   g.id,
		Room: chatRooms[g.skewed(len(chatRooms))],
		User: chatUsers[g.r.IntN(len(chatUsers))] + "_" + string(rune('0'+g.r.IntN(10))),
		TS:   g.ts,
		Text: b.String(),
	}
}

// chatMessages returns n encoded messages (about 200 to 400 bytes each).
func chatMessages(seed uint64, n int) [][]byte {
	g := newChatGen(seed)
	out := make([][]byte, n)
	for i := range out {
		out[i], _ = json.Marshal(g.next())
	}
	return out
}

// chatDocuments returns n history documents of about size bytes each: a
// room's recent messages as one JSON object, as a client fetches on join.
func chatDocuments(seed uint64, n, size int) [][]byte {
	g := newChatGen(seed)
	out := make([][]byte, n)
	for i := range out {
		type history struct {
			Type     string        `json:"type"`
			Room     string        `json:"room"`
			Messages []chatMessage `json:"messages"`
		}
		h := history{Type: "history", Room: chatRooms[i%len(chatRooms)]}
		total := 40
		for total < size {
			m := g.next()
			m.Room = h.Room
			enc, _ := json.Marshal(m)
			if total+len(enc)+1 > size {
				break
			}
			total += len(enc) + 1
			h.Messages = append(h.Messages, m)
		}
		out[i], _ = json.Marshal(h)
	}
	return out
}
