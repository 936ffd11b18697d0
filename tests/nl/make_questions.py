#!/usr/bin/env python3
"""Writes tests/nl/questions.json: plain-language questions with the request each must mean, built here from
templates independently of the C++ grammar, over the values `meta_db synth` emits (src/synth/synth.cpp). Re-run
after changing the templates; the data file is what the test reads."""
import json
import os

M, MODEL, K, T, N = ("metadata.Manufacturer", "metadata.ManufacturerModelName", "metadata.ConvolutionKernel",
                     "metadata.SliceThickness", "num_instances")
GE, SIEMENS, PHILIPS, TOSHIBA = "GE MEDICAL SYSTEMS", "SIEMENS", "Philips", "TOSHIBA"
VENDORS = [("GE", GE), ("Siemens", SIEMENS), ("Philips", PHILIPS), ("Toshiba", TOSHIBA), ("GE Medical Systems", GE)]
cases = []


def q(question, collection, flt, exact=False, not_understood=()):
    cases.append({"question": question, "endpoint": "/query", "request": {"collection": collection, "filter": flt},
                  "exact": exact, "not_understood": list(not_understood)})


def cohort(question, body, exact=False, not_understood=()):
    cases.append({"question": question, "endpoint": "/cohort", "request": body, "exact": exact,
                  "not_understood": list(not_understood)})


for word, value in VENDORS:
    q(f"series from {word} scanners", "series", {M: value})
    q(f"CT series from {word}", "series", {"modality": "CT", M: value})
    q(f"show me scans made by {word}", "series", {M: value})
    q(f"series not from {word}", "series", {M: {"$ne": value}})
q("series from GE or Siemens", "series", {M: {"$in": [GE, SIEMENS]}})
q("Philips or Toshiba CT scans", "series", {M: {"$in": [PHILIPS, TOSHIBA]}, "modality": "CT"})
q("non-Siemens series", "series", {M: {"$ne": SIEMENS}})
q("series excluding GE and Philips", "series", {M: {"$nin": [GE, PHILIPS]}}, not_understood=[])

for v in (0.625, 1, 1.25, 1.5, 2, 2.5, 3):
    q(f"series thinner than {v} mm", "series", {T: {"$lt": v}})
    q(f"series thicker than {v} mm", "series", {T: {"$gt": v}})
    q(f"series with slice thickness {v} mm", "series", {T: v})
for v in (1, 2.5):
    q(f"slice thickness at least {v} mm", "series", {T: {"$gte": v}})
    q(f"slice thickness at most {v} mm", "series", {T: {"$lte": v}})
q("slice thickness between 1 and 2 mm", "series", {T: {"$gte": 1, "$lte": 2}})
q("series with slice thickness between 1.25 and 2.5 mm", "series", {T: {"$gte": 1.25, "$lte": 2.5}})
q("1.25 mm slices", "series", {T: 1.25})
q("3 mm thick series", "series", {T: 3})
q("series thinner than 0.2 cm", "series", {T: {"$lt": 2}})
q("series 2 mm or thinner", "series", {T: {"$lte": 2}})

for n in (50, 100, 150, 200, 250):
    q(f"series with more than {n} images", "series", {N: {"$gt": n}})
    q(f"series with at least {n} images", "series", {N: {"$gte": n}})
    q(f"series with fewer than {n} images", "series", {N: {"$lt": n}})
q("series with at most 2 images", "series", {N: {"$lte": 2}})
q("series with between 100 and 200 images", "series", {N: {"$gte": 100, "$lte": 200}})
q("series with 100 images or more", "series", {N: {"$gte": 100}})
q("series with over 120 slices", "series", {N: {"$gt": 120}})
q("series with less than 3 instances", "series", {N: {"$lt": 3}})

D = "study_date"
for y in (2000, 2003, 2005, 2008):
    q(f"studies before {y}", "studies", {D: {"$lt": f"{y}0101"}})
    q(f"studies after {y}", "studies", {D: {"$gte": f"{y + 1}0101"}})
    q(f"studies in {y}", "studies", {D: {"$gte": f"{y}0101", "$lt": f"{y + 1}0101"}})
    q(f"studies since {y}", "studies", {D: {"$gte": f"{y}0101"}})
q("studies since March 2003", "studies", {D: {"$gte": "20030301"}})
q("studies before June 2001", "studies", {D: {"$lt": "20010601"}})
q("studies in December 2006", "studies", {D: {"$gte": "20061201", "$lt": "20070101"}})
q("studies between 2002 and 2004", "studies", {D: {"$gte": "20020101", "$lt": "20050101"}})
q("studies from 1999 to 2001", "studies", {D: {"$gte": "19990101", "$lt": "20020101"}})
q("studies until 2000", "studies", {D: {"$lt": "20010101"}})
q("studies after 2004-06-15", "studies", {D: {"$gte": "20040616"}})
cohort("CT series from studies after 2005", {"studies": {D: {"$gte": "20060101"}}, "series": {"modality": "CT"},
                                             "return": "series"})
cohort("Siemens series before 2004", {"studies": {D: {"$lt": "20040101"}}, "series": {M: SIEMENS},
                                      "return": "series"})
cohort("series in 2007", {"studies": {D: {"$gte": "20070101", "$lt": "20080101"}}, "return": "series"})

for kernel in ("B30f", "B45f", "B70f", "FC01", "FC10", "FC51"):
    q(f"series with kernel {kernel}", "series", {K: kernel})
    q(f"{kernel} kernel CT series", "series", {K: kernel, "modality": "CT"})
for kernel in ("STANDARD", "LUNG", "BONE"):
    q(f"series with the {kernel.lower()} kernel", "series", {K: kernel})
q("series with kernel B30f or B45f", "series", {K: {"$in": ["B30f", "B45f"]}})
q("series not reconstructed with kernel B70f", "series", {K: {"$ne": "B70f"}})

for model_words, model in (("Sensation 16", "Sensation 16"), ("Aquilion", "Aquilion"),
                           ("LightSpeed16", "LightSpeed16"), ("Brilliance 16P", "Brilliance 16P")):
    q(f"{model_words} series", "series", {MODEL: model})
    q(f"series from a {model_words} scanner", "series", {MODEL: model})

q("CT series", "series", {"modality": "CT"})
q("CR series", "series", {"modality": "CR"})
q("DX series", "series", {"modality": "DX"})
q("radiographs", "series", {"modality": {"$in": ["CR", "DX"]}})
q("series that are not CT", "series", {"modality": {"$ne": "CT"}})
q("chest CT series", "series", {"metadata.BodyPartExamined": "CHEST", "modality": "CT"})
q("chest series", "series", {"metadata.BodyPartExamined": "CHEST"})

C = "metadata.ContrastBolusAgent"
q("series without contrast", "series", {C: {"$in": [None, ""]}})
q("non-contrast CT series", "series", {C: {"$in": [None, ""]}, "modality": "CT"})
q("CT series with no contrast", "series", {"modality": "CT", C: {"$in": [None, ""]}})
q("contrast enhanced series", "series", {C: {"$nin": [None, ""]}})
q("series with contrast", "series", {C: {"$nin": [None, ""]}})

PS = "metadata.PatientSex"
q("studies of female patients", "studies", {PS: "F"})
q("studies of men", "studies", {PS: "M"})
cohort("male patients", {"studies": {PS: "M"}, "return": "studies"})
cohort("female patients with Siemens CT series", {"studies": {PS: "F"}, "series": {M: SIEMENS, "modality": "CT"},
                                                 "return": "studies"})
cohort("series of women", {"studies": {PS: "F"}, "return": "series"})

cohort("how many patients have CT series from Siemens", {"series": {"modality": "CT", M: SIEMENS},
                                                         "return": "studies"})
cohort("patients with series thinner than 1 mm", {"series": {T: {"$lt": 1}}, "return": "studies"})
cohort("studies with Toshiba series", {"series": {M: TOSHIBA}, "return": "studies"})
cohort("studies with series thicker than 2 mm", {"series": {T: {"$gt": 2}}, "return": "studies"})
cohort("images of Siemens CT series", {"series": {M: SIEMENS, "modality": "CT"}, "return": "instances"})
cohort("instances of series thinner than 1 mm", {"series": {T: {"$lt": 1}}, "return": "instances"})
cohort("images from studies in 2005", {"studies": {D: {"$gte": "20050101", "$lt": "20060101"}},
                                       "return": "instances"})
q("all studies", "studies", {})
q("all series", "series", {})
cohort("patients", {"return": "studies"})
cohort("CT series from Siemens scanners thinner than 1.5 mm with at least 100 images from studies after 2005",
       {"studies": {D: {"$gte": "20060101"}},
        "series": {"modality": "CT", M: SIEMENS, T: {"$lt": 1.5}, N: {"$gte": 100}}, "return": "series"})
cohort("GE series thicker than 1 mm with fewer than 200 images since 2002",
       {"studies": {D: {"$gte": "20020101"}}, "series": {M: GE, T: {"$gt": 1}, N: {"$lt": 200}},
        "return": "series"})
q("Philips CT series with kernel C and more than 150 images", "series",
  {M: PHILIPS, "modality": "CT", K: "C", N: {"$gt": 150}})
q("non-contrast chest CT thinner than 2 mm", "series",
  {C: {"$in": [None, ""]}, "metadata.BodyPartExamined": "CHEST", "modality": "CT", T: {"$lt": 2}})

# The fields of issue #13 (annotations, qc): the request is compared as written (the synth catalogue has none).
A = "annotations"
q("series with nodules", "series", {f"{A}.nodules": {"$gte": 1}}, exact=True)
q("series without nodules", "series", {f"{A}.nodules": 0}, exact=True)
q("series with at least 3 nodules", "series", {f"{A}.nodules": {"$gte": 3}}, exact=True)
q("series with more than 1 nodule", "series", {f"{A}.nodules": {"$gt": 1}}, exact=True)
q("series with nodules larger than 10 mm", "series", {f"{A}.max_diameter_mm": {"$gt": 10}}, exact=True)
q("series with malignancy at least 4", "series", {f"{A}.max_malignancy": {"$gte": 4}}, exact=True)
q("series with malignant nodules", "series", {f"{A}.max_malignancy": {"$gte": 4}}, exact=True)
q("series read by at least 4 readers", "series", {f"{A}.readers": {"$gte": 4}}, exact=True)
q("series with 3 readers", "series", {f"{A}.readers": 3}, exact=True)
q("series with gaps", "series", {"qc.flags": "missing_slices"}, exact=True)
q("series without gaps", "series", {"qc.flags": {"$ne": "missing_slices"}}, exact=True)
q("series with missing slices", "series", {"qc.flags": "missing_slices"}, exact=True)
q("series with irregular spacing", "series", {"qc.flags": "irregular_spacing"}, exact=True)
q("series with duplicate positions", "series", {"qc.flags": "duplicate_positions"}, exact=True)
q("series with mixed orientation", "series", {"qc.flags": "mixed_orientation"}, exact=True)
q("series with no geometry", "series", {"qc.flags": "no_geometry"}, exact=True)
q("series with a sharp kernel", "series", {"qc.kernel_class": "sharp"}, exact=True)
q("soft kernel series", "series", {"qc.kernel_class": "soft"}, exact=True)
q("series with qc flags", "series", {"qc.flags.0": {"$exists": True}}, exact=True)
q("series with regular spacing", "series", {"qc.regular_spacing": True}, exact=True)

# Partly understood: the understood part is answered, the rest named.
q("Siemens series with blurry artefacts", "series", {M: SIEMENS}, not_understood=["blurry", "artefacts"])
q("CT series acquired on tuesdays", "series", {"modality": "CT"}, not_understood=["tuesdays"])
q("thin Siemens series", "series", {M: SIEMENS}, not_understood=["thin"])
q("series from GE scanners in the ICU", "series", {M: GE}, not_understood=["ICU"])
q("series thinner than 1 mm'; DROP TABLE series; --", "series", {T: {"$lt": 1}}, not_understood=["DROP", "TABLE"])

refused = ["hello", "tell me a joke", "zzz qqq", "???", "the", "x" * 1001, "", "   "]

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "questions.json"), "w") as out:
    json.dump({"cases": cases, "refused": refused}, out, indent=1)
    out.write("\n")
print(len(cases), "cases,", len(refused), "refused")
