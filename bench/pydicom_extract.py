#!/usr/bin/python3
"""The user's earlier approach, for comparison: walk the archive, pydicom dcmread(stop_before_pixels=True),
take the tags of meta_db's default profiles, print one JSON line per instance. Prints files/s on stderr."""
import json
import os
import sys
import time

import pydicom


def profile_keywords(profile_dir):
    keywords = []
    for level in ("study", "series", "instance"):
        with open(os.path.join(profile_dir, level + ".txt")) as handle:
            for line in handle:
                line = line.split("#", 1)[0].strip()
                if line and not line.startswith("("):
                    keywords.append(line)
    return keywords


def plain(value):
    if isinstance(value, pydicom.multival.MultiValue):
        return [plain(v) for v in value]
    if isinstance(value, (int, float, str)):
        return value
    return str(value)


def main():
    root, profile_dir = sys.argv[1], sys.argv[2]
    keywords = profile_keywords(profile_dir)
    started = time.monotonic()
    files = parsed = failed = 0
    out = sys.stdout
    for directory, _, names in os.walk(root):
        for name in sorted(names):
            path = os.path.join(directory, name)
            files += 1
            try:
                dataset = pydicom.dcmread(path, stop_before_pixels=True)
                record = {"path": path}
                for keyword in keywords:
                    if keyword in dataset:
                        record[keyword] = plain(dataset.data_element(keyword).value)
                out.write(json.dumps(record) + "\n")
                parsed += 1
            except Exception:  # noqa: BLE001 - a failing file is counted, like meta_db does
                failed += 1
    seconds = time.monotonic() - started
    print(f"pydicom: {files} files, {parsed} parsed, {failed} failed, {seconds:.2f} s, {files / seconds:.0f} files/s",
          file=sys.stderr)


if __name__ == "__main__":
    main()
