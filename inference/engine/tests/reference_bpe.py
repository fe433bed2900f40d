"""An independent byte-level BPE encoder for the golden tokenizer test: plain Python over the GGUF's own token and
merge lists (no `tokenizers`, no `regex`), following llama.cpp's `smollm` pre-tokeniser."""

import unicodedata


def bytes_to_unicode():
    """GPT-2's map of the 256 byte values to printable characters (the alphabet of byte-level BPE)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _is_letter(c):
    return unicodedata.category(c).startswith("L")


def _is_number(c):
    return unicodedata.category(c).startswith("N")


def _is_other(c):
    return not c.isspace() and not _is_letter(c) and not _is_number(c)


def gpt2_split(text):
    """GPT-2's pre-tokenisation regex, by hand:
    's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"""
    pieces, i, n = [], 0, len(text)
    while i < n:
        if text[i] == "'" and (
            text[i + 1 : i + 3] in ("re", "ve", "ll") or text[i + 1 : i + 2] in ("s", "t", "m", "d")
        ):
            j = i + (3 if text[i + 1 : i + 3] in ("re", "ve", "ll") else 2)
        else:
            j = None
            for cls in (_is_letter, _is_number, _is_other):
                k = i + 1 if text[i] == " " and i + 1 < n and cls(text[i + 1]) else i
                if cls(text[k]):
                    while k < n and cls(text[k]):
                        k += 1
                    j = k
                    break
            if j is None:  # whitespace: \s+(?!\S), else \s+
                k = i
                while k < n and text[k].isspace():
                    k += 1
                j = k if k == n or k - i == 1 else k - 1
        pieces.append(text[i:j])
        i = j
    return pieces


def digits_then_gpt2(text):
    """llama.cpp's smollm pre-tokeniser: every \\p{N} character alone, then GPT-2's regex over the rest."""
    out, run = [], ""
    for c in text:
        if _is_number(c):
            if run:
                out += gpt2_split(run)
                run = ""
            out.append(c)
        else:
            run += c
    if run:
        out += gpt2_split(run)
    return out


def bpe(word, ranks):
    parts = list(word)
    while len(parts) > 1:
        best = min(range(len(parts) - 1), key=lambda i: ranks.get((parts[i], parts[i + 1]), float("inf")))
        if (parts[best], parts[best + 1]) not in ranks:
            break
        parts[best : best + 2] = [parts[best] + parts[best + 1]]
    return parts


def reference_encode(text, tokens, merges, specials):
    """Byte-level BPE from the GGUF's own lists: split out special tokens, pre-tokenise, map bytes, merge by rank."""
    vocab = {t: i for i, t in enumerate(tokens)}
    ranks = {tuple(m.split(" ", 1)): r for r, m in enumerate(merges)}
    byte_map = bytes_to_unicode()
    ids, i, plain = [], 0, ""
    ordered = sorted(specials, key=len, reverse=True)

    def flush(chunk):
        for piece in digits_then_gpt2(chunk):
            ids.extend(vocab[p] for p in bpe("".join(byte_map[b] for b in piece.encode("utf-8")), ranks))

    while i < len(text):
        special = next((s for s in ordered if text.startswith(s, i)), None)
        if special:
            flush(plain)
            plain = ""
            ids.append(vocab[special])
            i += len(special)
        else:
            plain += text[i]
            i += 1
    flush(plain)
    return ids
