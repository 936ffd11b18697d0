#!/usr/bin/python3
"""Reference values for the extractor tests: pydicom's reading of each file given on the command line, as JSON."""
import json
import sys
import warnings

import pydicom

KEYS = ["SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "PatientID", "Modality", "StudyDate",
        "InstanceNumber", "SliceThickness", "Rows", "PatientName"]


def plain(value):
    """pydicom value -> JSON: numbers stay numbers, multi-values become lists, names become strings."""
    if value is None:
        return None
    if isinstance(value, (list, pydicom.multival.MultiValue)):
        return [plain(v) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def read(path):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            out = {}
            for key in KEYS:
                if key in ds:
                    value = ds[key].value
                    out[key] = plain(value) if value not in ("", None, b"") else None
            return out
    except Exception as exc:  # pydicom could not read it: the extractor may report it any way it likes
        return {"__error__": f"{type(exc).__name__}: {exc}"}


def main():
    json.dump({path: read(path) for path in sys.argv[1:]}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
