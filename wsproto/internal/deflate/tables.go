package deflate

// The length and distance alphabets of RFC 1951 section 3.2.5. A match
// (length, distance) is written as a length code 257-285 and a distance
// code 0-29, each followed by extra bits that pick the exact value inside
// the code's range.

const (
	minMatch   = 3   // the shortest length DEFLATE can express
	maxMatch   = 258 // the longest
	endBlock   = 256 // the literal/length symbol that ends a block
	numLitLen  = 286 // literal/length symbols in use: 0-285 (286 and 287 never occur)
	numDist    = 30  // distance symbols in use: 0-29 (30 and 31 never occur)
	numCodeLen = 19  // symbols of the code length alphabet (section 3.2.7)
)

// Section 3.2.5: for length codes 257-285, the first length of each code
// and how many extra bits follow it.
var lengthBase = [29]uint16{
	3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
	35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
}

var lengthExtra = [29]uint8{
	0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
	3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
}

// Section 3.2.5: for distance codes 0-29, the first distance and the
// number of extra bits.
var distBase = [30]uint16{
	1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
	257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
}

var distExtra = [30]uint8{
	0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
	7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
}

// codeLenOrder is the order in which a dynamic block's header gives the
// code lengths of the code length alphabet (section 3.2.7).
var codeLenOrder = [numCodeLen]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// Lookups from a length or a distance to its code index, built from the
// tables above: lengthCode[l-3] is the index into lengthBase (add 257
// for the symbol); distCodeLow[d-1] for distances up to 256, and
// distCodeHigh[(d-1)>>7] above (every code from 16 up spans a multiple
// of 128 distances).
var (
	lengthCode   [maxMatch - minMatch + 1]uint8
	distCodeLow  [256]uint8
	distCodeHigh [256]uint8
)

func init() {
	// 258 has a code of its own (285, the last), not 284's last extra
	// value: each code covers up to the next code's base.
	for c := range lengthBase {
		end := maxMatch + 1
		if c+1 < len(lengthBase) {
			end = int(lengthBase[c+1])
		}
		for l := int(lengthBase[c]); l < end; l++ {
			lengthCode[l-minMatch] = uint8(c)
		}
	}
	for c := range distBase {
		end := 1<<15 + 1
		if c+1 < len(distBase) {
			end = int(distBase[c+1])
		}
		for d := int(distBase[c]); d < end; d++ {
			if d <= 256 {
				distCodeLow[d-1] = uint8(c)
			} else {
				distCodeHigh[(d-1)>>7] = uint8(c)
			}
		}
	}
}

// distCode returns the distance code index for d, 1 to 32768.
func distCode(d int) int {
	if d <= 256 {
		return int(distCodeLow[d-1])
	}
	return int(distCodeHigh[(d-1)>>7])
}
