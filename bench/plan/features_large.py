"""The large feature set of bench/plan (`run.py --large`): features on real files of 400-1000
lines, Debian 12's Python 3.11 standard library and, when its source tree is on the machine,
SQLite 3.40.1's CSV virtual table.

Nothing of that code is in this repository: SOURCES names each file by where it lies on the
machine, its line count and its sha256, and build_project() copies them into a temporary
project (with a `.git` directory, so that directory is the project's root for the repo map)
after checking every one, so a different Python or SQLite fails loudly instead of measuring
something else. The steps are written like features.py's (see there): each step one function,
its instruction the plan's words for it, its edit as (old, new) subs of the function's text or
a new function placed after the one the step's line is in.
"""
import hashlib
import os
import shutil

from features import S


def T(path, anchor, instruction, content):
    """A `tests` step: the plan's `tests PATH:LINE` (LINE in the function the tests are about);
    its answer is `content`, a new test file where the host's conventions put it
    (tests/test_<module>.py with pytest here). Full-only writes the same file with a block
    whose SEARCH is empty."""
    return {"action": "tests", "path": path, "anchor": anchor, "instruction": instruction,
            "subs": [], "append": None, "tests": content}

SQLITE_TREE = "/var/tmp/src/sqlite3-3.40.1"

# project path: (file on this machine, lines, sha256)
SOURCES = {
    "Lib/gzip.py": ("/usr/lib/python3.11/gzip.py", 668,
                    "8e0a7f850ef481fea41e0de9b52b4a014573b58e500ae83b92e5888d7a061008"),
    "Lib/fileinput.py": ("/usr/lib/python3.11/fileinput.py", 442,
                         "d507b16c4fa6860fe652bd7e8e788e7b145ef36bb85d306d93a265076030d134"),
    "Lib/aifc.py": ("/usr/lib/python3.11/aifc.py", 984,
                    "e027e8a33567890ad7f84fea3be423cc0f6e49a33a31bbf279c2d0f64b6f8345"),
    "Lib/sunau.py": ("/usr/lib/python3.11/sunau.py", 533,
                     "d1ed39eafff3b238071b2708059afcffa8ca58f2eadfcdc085e7a459c36275ee"),
    "Lib/wave.py": ("/usr/lib/python3.11/wave.py", 634,
                    "9d5f29d4657a1f9e5ada3fb660a77ccf14878d91812d9e59315884b265fe708b"),
    "Lib/csv.py": ("/usr/lib/python3.11/csv.py", 444,
                   "6c68a5186e3b85e6e267a7ef96479327a45ae2b40bf5e9f2017e4b2282b3f5b1"),
    "Lib/mimetypes.py": ("/usr/lib/python3.11/mimetypes.py", 648,
                         "240e2278866203e691307bc5c4c22de4236ab14d4c4d4f45fad82dd4614cca3d"),
    "ext/misc/csv.c": (SQLITE_TREE + "/ext/misc/csv.c", 964,
                       "5cb32b6a09f1951c294ad23516480073ad7fcc4e5ed900e45550cdda237f400a"),
}


def available():
    """(paths of SOURCES present on this machine, message about those left out or None)."""
    have = [p for p, (src, _, _) in SOURCES.items() if os.path.exists(src)]
    gone = sorted(set(SOURCES) - set(have))
    if any(not p.endswith(".c") for p in gone):
        raise RuntimeError("--large needs Debian 12's Python 3.11 standard library in "
                           "/usr/lib/python3.11 (package libpython3.11-stdlib); missing: %s"
                           % ", ".join(SOURCES[p][0] for p in gone))
    msg = None
    if gone:
        msg = ("%s is not on this machine: its C feature (SQLite's CSV virtual table) is "
               "skipped" % SQLITE_TREE)
    return have, msg


def build_project(dest, paths):
    """Copies `paths` (keys of SOURCES) into dest, checking each file's line count and sha256
    first; raises RuntimeError naming the file that differs."""
    for p in paths:
        src, lines, sha = SOURCES[p]
        data = open(src, "rb").read()
        n = data.count(b"\n")
        got = hashlib.sha256(data).hexdigest()
        if n != lines or got != sha:
            raise RuntimeError("%s is not the file the large features were written for "
                               "(%d lines, sha256 %s; expected %d lines, sha256 %s): another "
                               "Python 3.11 or SQLite release? The features' edits would not "
                               "apply to it." % (src, n, got[:16], lines, sha[:16]))
        os.makedirs(os.path.dirname(os.path.join(dest, p)), exist_ok=True)
        shutil.copyfile(src, os.path.join(dest, p))
    os.makedirs(os.path.join(dest, ".git"), exist_ok=True)


# ---- 1. gzip, fileinput: a limit on the decompressed size --------------------------------------

GZIP_TESTS = '''import functools
import gzip
import io

import fileinput
import pytest


def test_max_size_allows_exactly_the_limit():
    data = gzip.compress(b"x" * 1000)
    with gzip.GzipFile(fileobj=io.BytesIO(data), max_size=1000) as f:
        assert f.read() == b"x" * 1000


def test_max_size_refuses_one_byte_more():
    data = gzip.compress(b"x" * 1001)
    with gzip.GzipFile(fileobj=io.BytesIO(data), max_size=1000) as f:
        with pytest.raises(gzip.BadGzipFile, match="exceeds max_size"):
            f.read()


def test_max_size_counts_every_member():
    data = gzip.compress(b"x" * 600) + gzip.compress(b"y" * 600)
    with gzip.GzipFile(fileobj=io.BytesIO(data), max_size=1000) as f:
        with pytest.raises(gzip.BadGzipFile):
            f.read()


def test_open_in_text_mode_passes_max_size(tmp_path):
    path = tmp_path / "lines.gz"
    path.write_bytes(gzip.compress(b"line\\n" * 100))
    with gzip.open(path, "rt", max_size=10) as f:
        with pytest.raises(gzip.BadGzipFile):
            f.read()


def test_hook_compressed_limits_gz_files(tmp_path):
    path = tmp_path / "lines.gz"
    path.write_bytes(gzip.compress(b"line\\n" * 100))
    hook = functools.partial(fileinput.hook_compressed, max_size=50)
    with fileinput.FileInput(str(path), openhook=hook) as lines:
        with pytest.raises(gzip.BadGzipFile):
            list(lines)
'''

G1 = {
    "goal": "A limit on how much a gzip stream may decompress to, against decompression bombs: "
            "GzipFile and gzip.open take max_size (None: no limit), reading past it raises "
            "BadGzipFile, and fileinput's hook_compressed can pass the limit on for .gz files.",
    "steps": [
        S("fix", "Lib/gzip.py", "    def __init__(self, filename=None, mode=None,",
          "GzipFile.__init__: add a keyword-only parameter max_size=None after mtime, document "
          "it in the docstring after the mtime paragraph (reading only, BadGzipFile past it), "
          "and pass it to _GzipReader when the mode is a read mode.",
          subs=[("                 compresslevel=_COMPRESS_LEVEL_BEST, fileobj=None, "
                 "mtime=None):\n",
                 "                 compresslevel=_COMPRESS_LEVEL_BEST, fileobj=None, "
                 "mtime=None,\n                 *, max_size=None):\n"),
                ("        If omitted or None, the current time is used.\n\n",
                 "        If omitted or None, the current time is used.\n\n"
                 "        The max_size argument, when not None, is the most bytes reading may\n"
                 "        decompress; reading more raises BadGzipFile. It is ignored when\n"
                 "        writing.\n\n"),
                ("            raw = _GzipReader(fileobj)\n",
                 "            raw = _GzipReader(fileobj, max_size)\n")]),
        S("fix", "Lib/gzip.py", "    def __init__(self, fp):",
          "_GzipReader.__init__: take max_size=None after fp and keep it in self._max_size, "
          "with a comment saying None means no limit on the decompressed size.",
          subs=[("    def __init__(self, fp):\n", "    def __init__(self, fp, max_size=None):\n"),
                ("        self._last_mtime = None\n",
                 "        self._last_mtime = None\n"
                 "        self._max_size = max_size  # None: no limit on the decompressed size\n")]),
        S("fix", "Lib/gzip.py", "            uncompress = self._decompressor.decompress(buf, size)",
          "_GzipReader.read: once a chunk has been decompressed and before it is counted, raise "
          "BadGzipFile saying the data exceeds max_size (with its value) when the position "
          "plus the chunk would pass self._max_size.",
          subs=[("        self._add_read_data( uncompress )\n",
                 "        if (self._max_size is not None\n"
                 "                and self._pos + len(uncompress) > self._max_size):\n"
                 "            raise BadGzipFile(\"decompressed data exceeds max_size (%d bytes)\"\n"
                 "                              % self._max_size)\n"
                 "        self._add_read_data( uncompress )\n")]),
        S("fix", "Lib/gzip.py", "def open(filename, mode=\"rb\"",
          "gzip.open: add a keyword-only max_size=None after newline, pass it to GzipFile in "
          "both the file-name and the file-object case, and give it a sentence in the "
          "docstring (see GzipFile).",
          subs=[("         encoding=None, errors=None, newline=None):\n",
                 "         encoding=None, errors=None, newline=None, *, max_size=None):\n"),
                ("    behavior, and line ending(s).\n\n",
                 "    behavior, and line ending(s).\n\n"
                 "    The max_size argument limits how many bytes reading may decompress (see\n"
                 "    GzipFile).\n\n"),
                ("        binary_file = GzipFile(filename, gz_mode, compresslevel)\n",
                 "        binary_file = GzipFile(filename, gz_mode, compresslevel,\n"
                 "                               max_size=max_size)\n"),
                ("        binary_file = GzipFile(None, gz_mode, compresslevel, filename)\n",
                 "        binary_file = GzipFile(None, gz_mode, compresslevel, filename,\n"
                 "                               max_size=max_size)\n")]),
        S("fix", "Lib/fileinput.py", "def hook_compressed(",
          "hook_compressed: add a keyword-only max_size=None after errors and pass it to "
          "gzip.open for .gz files (bz2 has no such limit); add a two-line docstring, saying "
          "to bind it with functools.partial.",
          subs=[("def hook_compressed(filename, mode, *, encoding=None, errors=None):\n",
                 "def hook_compressed(filename, mode, *, encoding=None, errors=None,\n"
                 "                    max_size=None):\n"
                 "    \"\"\"Opens .gz and .bz2 files decompressed. max_size limits what a .gz file\n"
                 "    may decompress to (bind it with functools.partial).\"\"\"\n"),
                ("        stream = gzip.open(filename, mode)\n",
                 "        stream = gzip.open(filename, mode, max_size=max_size)\n")]),
        T("Lib/gzip.py", "            uncompress = self._decompressor.decompress(buf, size)",
          "Tests for max_size: data of exactly max_size bytes reads back, one byte more raises "
          "BadGzipFile, the limit counts every member of a concatenated stream, gzip.open in "
          "text mode passes it on, and hook_compressed through functools.partial.",
          GZIP_TESTS),
    ]}

# ---- 2. aifc, sunau, wave: the duration of a sound ---------------------------------------------

WAVE_DURATION = '''    def getduration(self):
        """The length of the sound in seconds."""
        if not self._framerate:
            raise Error('frame rate is 0')
        return self._nframes / self._framerate
'''

AU_DURATION = '''    def getduration(self):
        """The length of the sound in seconds, or None when the header gives no
        data size or the encoding is compressed (the frame count is unknown)."""
        if (self._data_size == AUDIO_UNKNOWN_SIZE
                or self._encoding not in _simple_encodings):
            return None
        if not self._framerate:
            raise Error('frame rate is 0')
        return self.getnframes() / self._framerate
'''

G2 = {
    "goal": "The three audio readers tell how long a sound lasts: Wave_read, Aifc_read and "
            "Au_read get a getduration() method giving the length in seconds as a float, "
            "raising the module's Error for a header whose frame rate is 0.",
    "steps": [
        S("implement", "Lib/wave.py", "    def getnframes(self):",
          "Write Wave_read.getduration(self) after getnframes: the number of frames divided by "
          "the frame rate, as a float; raise Error('frame rate is 0') when the header's frame "
          "rate is 0. One-line docstring.",
          append=WAVE_DURATION),
        S("implement", "Lib/aifc.py", "    def getnframes(self):",
          "Write Aifc_read.getduration(self) after getnframes: self._nframes divided by "
          "self._framerate; raise Error('frame rate is 0') when the rate is 0. One-line "
          "docstring.",
          append=WAVE_DURATION),
        S("implement", "Lib/sunau.py", "    def getnframes(self):",
          "Write Au_read.getduration(self) after getnframes: None when the data size is "
          "AUDIO_UNKNOWN_SIZE or the encoding is not in _simple_encodings, else getnframes() "
          "divided by the frame rate; Error('frame rate is 0') for a zero rate. Docstring "
          "saying when it is None.",
          append=AU_DURATION),
    ]}

# ---- 3. csv: strict field counts for the dict reader and writer --------------------------------

CSV_TESTS = '''import csv
import io

import pytest


def test_strict_reader_refuses_a_long_row():
    rows = csv.DictReader(io.StringIO("a,b\\n1,2\\n1,2,3\\n"), strict_fields=True)
    assert next(rows) == {"a": "1", "b": "2"}
    with pytest.raises(csv.Error, match="line 3: 3 fields, expected 2"):
        next(rows)


def test_strict_reader_refuses_a_short_row():
    rows = csv.DictReader(io.StringIO("a,b\\n1\\n"), strict_fields=True)
    with pytest.raises(csv.Error, match="line 2: 1 fields, expected 2"):
        next(rows)


def test_reader_without_strict_fields_uses_restval():
    rows = csv.DictReader(io.StringIO("a,b\\n1\\n"), restval="-")
    assert next(rows) == {"a": "1", "b": "-"}


def test_dialect_strict_still_reaches_the_reader():
    rows = csv.DictReader(io.StringIO(\'a,b\\n"x"y,1\\n\'), strict=True, strict_fields=True)
    with pytest.raises(csv.Error, match="expected"):
        next(rows)


def test_strict_writer_refuses_a_missing_field():
    out = io.StringIO()
    writer = csv.DictWriter(out, ["a", "b", "c"], strict_fields=True)
    with pytest.raises(ValueError, match="dict is missing fields: 'b', 'c'"):
        writer.writerow({"a": 1})
    assert out.getvalue() == ""
'''

G3 = {
    "goal": "Strict field checking in csv's dict classes: with strict_fields=True, DictReader "
            "raises csv.Error naming the line for a row whose field count differs from the "
            "header's, and DictWriter raises ValueError for a dict missing some fieldnames.",
    "steps": [
        S("fix", "Lib/csv.py", "    def __init__(self, f, fieldnames=None, restkey=None,",
          "DictReader.__init__: add a keyword-only parameter strict_fields=False after *args "
          "(reader's own strict is a dialect option, so the name must differ) and keep it in "
          "self.strict_fields with a comment like the other attributes.",
          subs=[("                 dialect=\"excel\", *args, **kwds):\n"
                 "        self._fieldnames = fieldnames   # list of keys for the dict\n",
                 "                 dialect=\"excel\", *args, strict_fields=False, **kwds):\n"
                 "        self._fieldnames = fieldnames   # list of keys for the dict\n"),
                ("        self.restval = restval          # default value for short rows\n",
                 "        self.restval = restval          # default value for short rows\n"
                 "        self.strict_fields = strict_fields  # short or long rows are errors\n")]),
        S("fix", "Lib/csv.py", "        while row == []:",
          "DictReader.__next__: when self.strict_fields is set and the row's field count "
          "differs from the fieldnames', raise Error \"line N: X fields, expected Y\" with "
          "self.line_num, before restkey or restval are used.",
          subs=[("        lr = len(row)\n",
                 "        lr = len(row)\n"
                 "        if self.strict_fields and lf != lr:\n"
                 "            raise Error(\"line %d: %d fields, expected %d\"\n"
                 "                        % (self.line_num, lr, lf))\n")]),
        S("fix", "Lib/csv.py", "    def __init__(self, f, fieldnames, restval=\"\"",
          "DictWriter.__init__: add a keyword-only strict_fields=False after *args, as "
          "DictReader has, and keep it in self.strict_fields with a comment like restval's.",
          subs=[("                 dialect=\"excel\", *args, **kwds):\n"
                 "        self.fieldnames = fieldnames    # list of keys for the dict\n",
                 "                 dialect=\"excel\", *args, strict_fields=False, **kwds):\n"
                 "        self.fieldnames = fieldnames    # list of keys for the dict\n"),
                ("        self.restval = restval          # for writing short dicts\n",
                 "        self.restval = restval          # for writing short dicts\n"
                 "        self.strict_fields = strict_fields  # short dicts are errors\n")]),
        S("fix", "Lib/csv.py", "    def _dict_to_list(self, rowdict):",
          "DictWriter._dict_to_list: after the extrasaction check, when strict_fields is set, "
          "raise ValueError \"dict is missing fields: ...\" listing with repr the fieldnames "
          "absent from rowdict, in fieldnames order, as the extras message does.",
          subs=[("        return (rowdict.get(key, self.restval) for key in self.fieldnames)\n",
                 "        if self.strict_fields:\n"
                 "            missing = [key for key in self.fieldnames if key not in rowdict]\n"
                 "            if missing:\n"
                 "                raise ValueError(\"dict is missing fields: \"\n"
                 "                                 + \", \".join([repr(x) for x in missing]))\n"
                 "        return (rowdict.get(key, self.restval) for key in self.fieldnames)\n")]),
        T("Lib/csv.py", "        while row == []:",
          "Tests for strict_fields: a long and a short row raise csv.Error naming the line and "
          "the counts, a row without strict_fields still gets restval, the dialect's own strict "
          "still works beside it, and the writer refuses a dict missing fields before writing.",
          CSV_TESTS),
    ]}

# ---- 4. SQLite's CSV virtual table: blank lines are not rows -----------------------------------

SKIP_BLANK_LINES = """/* Skip the empty lines (LF or CRLF) in front of a row, counting them in
** p->nLine.  The first other character is left unread.
*/
static void csv_skip_blank_lines(CsvReader *p){
  int c;
  while( (c = csv_getc(p))=='\\n' || c=='\\r' ){
    if( c=='\\n' ) p->nLine++;
  }
  if( c!=EOF ) p->iIn--;
}
"""

G4 = {
    "goal": "Blank lines in the CSV virtual table's input are not rows: empty lines (LF or "
            "CRLF) before the first row, between rows and at the end of the file are skipped, "
            "so they no longer appear as rows of empty columns or as the header.",
    "steps": [
        S("implement", "ext/misc/csv.c", "static int csv_getc(CsvReader *p){",
          "Write static void csv_skip_blank_lines(CsvReader *p) after csv_getc: read and drop "
          "LF and CR characters with csv_getc, adding 1 to p->nLine per LF, and step p->iIn "
          "back over the first other character; EOF ends it.",
          append=SKIP_BLANK_LINES),
        S("fix", "ext/misc/csv.c", "static int csvtabNext(sqlite3_vtab_cursor *cur){",
          "csvtabNext: call csv_skip_blank_lines on the cursor's reader before the loop that "
          "reads the row's fields, so a blank line is neither a row nor, at the end of the "
          "input, a last empty row.",
          subs=[("  char *z;\n  do{\n",
                 "  char *z;\n  csv_skip_blank_lines(&pCur->rdr);\n  do{\n")]),
        S("fix", "ext/misc/csv.c", "  memset(pNew, 0, sizeof(*pNew));",
          "csvtabConnect: right after the new table is zeroed, skip the blank lines at the "
          "start of the input with csv_skip_blank_lines, so the header or the first row that "
          "gives the column count is the first non-empty line.",
          subs=[("  memset(pNew, 0, sizeof(*pNew));\n",
                 "  memset(pNew, 0, sizeof(*pNew));\n"
                 "  csv_skip_blank_lines(&sRdr);  /* the first row is the first non-blank line */\n")]),
    ]}

# ---- 5. mimetypes: guessing a type from a file path, not a URL -------------------------------

MIMETYPES_TESTS = '''import mimetypes
import pathlib


def test_guess_file_type_of_paths():
    assert mimetypes.guess_file_type("docs/report.PDF") == ("application/pdf", None)
    assert mimetypes.guess_file_type(pathlib.Path("a/b.tar.gz")) == ("application/x-tar",
                                                                     "gzip")
    assert mimetypes.guess_file_type(b"data.json") == ("application/json", None)
    assert mimetypes.guess_file_type("README") == (None, None)


def test_guess_file_type_strict():
    db = mimetypes.MimeTypes()
    db.add_type("text/x-bench", ".bench", strict=False)
    assert db.guess_file_type("run.bench") == (None, None)
    assert db.guess_file_type("run.bench", strict=False) == ("text/x-bench", None)


def test_guess_type_of_urls_is_unchanged():
    assert mimetypes.guess_type("http://example.com/a.txt") == ("text/plain", None)
    assert mimetypes.guess_type("data:image/png;base64,AAAA") == ("image/png", None)
    assert mimetypes.guess_type("http://example.com/a.tgz") == ("application/x-tar", "gzip")
'''

_GUESS_FILE_TYPE = '''    def _guess_file_type(self, path, strict, splitext):
        # The type and encoding given by the suffixes of `path`, split off with
        # `splitext`: posixpath's for a URL, os.path's for a file path.
        base, ext = splitext(path)
        while (ext_lower := ext.lower()) in self.suffix_map:
            base, ext = splitext(base + self.suffix_map[ext_lower])
        # encodings_map is case sensitive
        if ext in self.encodings_map:
            encoding = self.encodings_map[ext]
            base, ext = splitext(base)
        else:
            encoding = None
        ext = ext.lower()
        types_map = self.types_map[True]
        if ext in types_map:
            return types_map[ext], encoding
        elif strict:
            return None, encoding
        types_map = self.types_map[False]
        if ext in types_map:
            return types_map[ext], encoding
        else:
            return None, encoding
'''

GUESS_FILE_TYPE_METHOD = '''    def guess_file_type(self, path, *, strict=True):
        """Guess the type of a file from its path on this system.

        Like guess_type(), but `path` is a file system path (str, bytes or
        path-like), not a URL: its suffixes are split with os.path, so a
        drive or a Windows separator is never taken for part of the name.
        """
        path = os.fsdecode(path)
        path = os.path.splitdrive(path)[1]
        return self._guess_file_type(path, strict, os.path.splitext)
'''

GUESS_FILE_TYPE = '''def guess_file_type(path, *, strict=True):
    """Guess the type of a file from its path; see MimeTypes.guess_file_type()."""
    if _db is None:
        init()
    return _db.guess_file_type(path, strict=strict)
'''

G5 = {
    "goal": "mimetypes can guess a type from a file path instead of a URL: "
            "MimeTypes.guess_file_type(path, *, strict=True) and a module-level "
            "guess_file_type split the suffixes with os.path, sharing guess_type's suffix "
            "lookup, which moves to a private method.",
    "steps": [
        S("implement", "Lib/mimetypes.py", "    def add_type(self, type, ext, strict=True):",
          "Write MimeTypes._guess_file_type(self, path, strict, splitext) after add_type: "
          "guess_type's suffix lookup (suffix_map, encodings_map, the strict and non-strict "
          "types_map) moved here unchanged, with every posixpath.splitext call replaced by "
          "the splitext argument.",
          append=_GUESS_FILE_TYPE),
        S("refactor", "Lib/mimetypes.py", "    def guess_type(self, url, strict=True):",
          "MimeTypes.guess_type: after the data: URL case, replace the suffix lookup with a "
          "call to self._guess_file_type(url, strict, posixpath.splitext); the docstring and "
          "the data: URL handling stay as they are.",
          subs=[('''        base, ext = posixpath.splitext(url)
        while (ext_lower := ext.lower()) in self.suffix_map:
            base, ext = posixpath.splitext(base + self.suffix_map[ext_lower])
        # encodings_map is case sensitive
        if ext in self.encodings_map:
            encoding = self.encodings_map[ext]
            base, ext = posixpath.splitext(base)
        else:
            encoding = None
        ext = ext.lower()
        types_map = self.types_map[True]
        if ext in types_map:
            return types_map[ext], encoding
        elif strict:
            return None, encoding
        types_map = self.types_map[False]
        if ext in types_map:
            return types_map[ext], encoding
        else:
            return None, encoding
''', "        return self._guess_file_type(url, strict, posixpath.splitext)\n")]),
        S("implement", "Lib/mimetypes.py", "    def guess_extension(self, type, strict=True):",
          "Write MimeTypes.guess_file_type(self, path, *, strict=True) after guess_extension: "
          "os.fsdecode the path, drop its drive with os.path.splitdrive, and return "
          "_guess_file_type with os.path.splitext. Docstring contrasting it with guess_type.",
          append=GUESS_FILE_TYPE_METHOD),
        S("implement", "Lib/mimetypes.py", "def guess_type(url, strict=True):",
          "Write the module-level guess_file_type(path, *, strict=True) after guess_type: "
          "init() the database when _db is None, as guess_type does, and return "
          "_db.guess_file_type(path, strict=strict); a one-line docstring pointing to the "
          "method.",
          append=GUESS_FILE_TYPE),
        T("Lib/mimetypes.py", "    def guess_extension(self, type, strict=True):",
          "Tests for guess_file_type: str, pathlib and bytes paths with a case-insensitive type "
          "suffix and an encoding suffix, the non-strict types only with strict=False, and "
          "guess_type of URLs, data: URLs included, unchanged.",
          MIMETYPES_TESTS),
    ]}

# ---- 6. aifc, sunau, wave: path-like file names ------------------------------------------------

G6 = {
    "goal": "The audio modules accept path-like objects (pathlib.Path) as well as str file "
            "names: the readers and writers open whatever has no read or write method as a "
            "file name, as gzip does, instead of treating a Path as an open file.",
    "steps": [
        S("fix", "Lib/wave.py", "            f = builtins.open(f, 'rb')",
          "Wave_read.__init__: open f with builtins.open when it has no read attribute (a str, "
          "bytes or path-like name) instead of only when it is a str; say so in a short "
          "comment on that test.",
          subs=[("        if isinstance(f, str):\n",
                 "        if not hasattr(f, 'read'):  # a file name or a path-like object\n")]),
        S("fix", "Lib/wave.py", "            f = builtins.open(f, 'wb')",
          "Wave_write.__init__: the same for writing: open f with builtins.open(f, 'wb') "
          "when it has no write attribute, with the same short comment.",
          subs=[("        if isinstance(f, str):\n",
                 "        if not hasattr(f, 'write'):  # a file name or a path-like object\n")]),
        S("fix", "Lib/aifc.py", "            file_object = builtins.open(f, 'rb')",
          "Aifc_read.__init__: open f as a file when it has no read attribute rather than only "
          "for a str, with a short comment; the close on a failed initfp stays.",
          subs=[("        if isinstance(f, str):\n",
                 "        if not hasattr(f, 'read'):  # a file name or a path-like object\n")]),
        S("fix", "Lib/sunau.py", "            f = builtins.open(f, 'rb')",
          "Au_read.__init__: replace the type(f) == type('') test with a check for a missing "
          "read attribute, so path-like names are opened too; short comment.",
          subs=[("        if type(f) == type(''):\n",
                 "        if not hasattr(f, 'read'):  # a file name or a path-like object\n")]),
        S("fix", "Lib/sunau.py", "            f = builtins.open(f, 'wb')",
          "Au_write.__init__: the same for writing: open f with builtins.open(f, 'wb') when "
          "it has no write attribute, instead of the type(f) == type('') test; short comment.",
          subs=[("        if type(f) == type(''):\n",
                 "        if not hasattr(f, 'write'):  # a file name or a path-like object\n")]),
    ]}

FEATURES = [G1, G2, G3, G4, G5, G6]
