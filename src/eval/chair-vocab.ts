// The object vocabulary of CHAIR (Rohrbach et al., 2018) as OPERA's chair.py uses it: the 80 MSCOCO
// classes, each with its synonyms (LisaAnne/Hallucination data/synonyms.txt; the first word of a line
// is the class), and the two-word rules. Kept as the same comma-separated lines and parsed the same way
// (line trimmed, split on ", "), so the list's quirks carry over: " motor bike" and " cheesecake" keep
// the leading space of a doubled separator and so never match; "iPhone" keeps its capital and never
// matches a lower-cased caption. A `\` at the end of a line continues it (template-literal line continuation),
// so the long classes wrap without changing the text.

export const COCO_SYNONYMS = `
person, girl, boy, man, woman, kid, child, chef, baker, people, adult, rider, children, baby, worker, passenger, sister, biker, \
policeman, cop, officer, lady, cowboy, bride, groom, male, female, guy, traveler, mother, father, gentleman, pitcher, player, \
skier, snowboarder, skater, skateboarder, person, woman, guy, foreigner, child, gentleman, caller, offender, coworker, \
trespasser, patient, politician, soldier, grandchild, serviceman, walker, drinker, doctor, bicyclist, thief, buyer, teenager, \
student, camper, driver, solider, hunter, shopper, villager
bicycle, bike, bicycle, bike, unicycle, minibike, trike
car, automobile, van, minivan, sedan, suv, hatchback, cab, jeep, coupe, taxicab, limo, taxi
motorcycle, scooter,  motor bike, motor cycle, motorbike, scooter, moped
airplane, jetliner, plane, air plane, monoplane, aircraft, jet, jetliner, airbus, biplane, seaplane
bus, minibus, trolley
train, locomotive, tramway, caboose
truck, pickup, lorry, hauler, firetruck
boat, ship, liner, sailboat, motorboat, dinghy, powerboat, speedboat, canoe, skiff, yacht, kayak, catamaran, pontoon, houseboat, \
vessel, rowboat, trawler, ferryboat, watercraft, tugboat, schooner, barge, ferry, sailboard, paddleboat, lifeboat, freighter, \
steamboat, riverboat, battleship, steamship
traffic light, street light, traffic signal, stop light, streetlight, stoplight
fire hydrant, hydrant
stop sign
parking meter
bench, pew
bird, ostrich, owl, seagull, goose, duck, parakeet, falcon, robin, pelican, waterfowl, heron, hummingbird, mallard, finch, \
pigeon, sparrow, seabird, osprey, blackbird, fowl, shorebird, woodpecker, egret, chickadee, quail, bluebird, kingfisher, buzzard, \
willet, gull, swan, bluejay, flamingo, cormorant, parrot, loon, gosling, waterbird, pheasant, rooster, sandpiper, crow, raven, \
turkey, oriole, cowbird, warbler, magpie, peacock, cockatiel, lorikeet, puffin, vulture, condor, macaw, peafowl, cockatoo, songbird
cat, kitten, feline, tabby
dog, puppy, beagle, pup, chihuahua, schnauzer, dachshund, rottweiler, canine, pitbull, collie, pug, terrier, poodle, labrador, \
doggie, doberman, mutt, doggy, spaniel, bulldog, sheepdog, weimaraner, corgi, cocker, greyhound, retriever, brindle, hound, whippet, husky
horse, colt, pony, racehorse, stallion, equine, mare, foal, palomino, mustang, clydesdale, bronc, bronco
sheep, lamb, ram, lamb, goat, ewe
cow, cattle, oxen, ox, calf, cattle, holstein, heifer, buffalo, bull, zebu, bison
elephant
bear, panda
zebra
giraffe
backpack, knapsack
umbrella
handbag, wallet, purse, briefcase
tie, bow, bow tie
suitcase, suit case, luggage
frisbee
skis, ski
snowboard
sports ball, ball
kite
baseball bat
baseball glove
skateboard
surfboard, longboard, skimboard, shortboard, wakeboard
tennis racket, racket
bottle
wine glass
cup
fork
knife, pocketknife, knive
spoon
bowl, container
banana
apple
sandwich, burger, sub, cheeseburger, hamburger
orange
broccoli
carrot
hot dog
pizza
donut, doughnut, bagel
cake,  cheesecake, cupcake, shortcake, coffeecake, pancake
chair, seat, stool
couch, sofa, recliner, futon, loveseat, settee, chesterfield
potted plant, houseplant
bed
dining table, table, desk
toilet, urinal, commode, toilet, lavatory, potty
tv, monitor, televison, television
laptop, computer, notebook, netbook, lenovo, macbook, laptop computer
mouse
remote
keyboard
cell phone, mobile phone, phone, cellphone, telephone, phon, smartphone, iPhone
microwave
oven, stovetop, stove, stove top oven
toaster
sink
refrigerator, fridge, fridge, freezer
book
clock
vase
scissors
teddy bear, teddybear
hair drier, hairdryer
toothbrush
`;

/** Two-word phrases treated as one word (chair.py's `coco_double_words`). */
const COCO_DOUBLE_WORDS = [
  "motor bike",
  "motor cycle",
  "air plane",
  "traffic light",
  "street light",
  "traffic signal",
  "stop light",
  "fire hydrant",
  "stop sign",
  "parking meter",
  "suit case",
  "sports ball",
  "baseball bat",
  "baseball glove",
  "tennis racket",
  "wine glass",
  "hot dog",
  "cell phone",
  "mobile phone",
  "teddy bear",
  "hair drier",
  "potted plant",
  "bow tie",
  "laptop computer",
  // three words: never matched by a two-word window, as in chair.py
  "stove top oven",
  "home plate",
  "train track",
];
/** "baby dog" is a dog, not a person (chair.py's animal qualifiers). */
const ANIMAL_WORDS = ["bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "animal", "cub"];
/** "passenger jet" is a jet, not a person. */
const VEHICLE_WORDS = ["jet", "train"];

export interface ChairVocab {
  name: string;
  /** Every word that counts as an object mention (classes and synonyms). */
  objects: Set<string>;
  /** Word → its class (the first word of its synonym line). */
  classOf: Map<string, string>;
  /** Two-word phrase → the word it stands for. */
  doubleWords: Map<string, string>;
  /** Apply chair.py's "toilet seat is not a chair" rule. */
  toiletSeatRule: boolean;
}

/** A vocabulary from synonym lines in chair.py's format: `class, synonym, synonym, ...`. */
export function parseSynonyms(text: string, name: string): ChairVocab {
  const objects = new Set<string>();
  const classOf = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    // chair.py keeps blank lines as the one-word class "" (matching nothing); skipping them is the same
    if (line.trim() === "") continue;
    const words = line.trim().split(", ");
    for (const w of words) {
      objects.add(w);
      classOf.set(w, words[0]);
    }
  }
  return { name, objects, classOf, doubleWords: new Map(), toiletSeatRule: false };
}

function cocoVocab(): ChairVocab {
  const v = parseSynonyms(COCO_SYNONYMS, "coco");
  for (const d of COCO_DOUBLE_WORDS) v.doubleWords.set(d, d);
  for (const a of ANIMAL_WORDS) {
    v.doubleWords.set(`baby ${a}`, a);
    v.doubleWords.set(`adult ${a}`, a);
  }
  for (const w of VEHICLE_WORDS) v.doubleWords.set(`passenger ${w}`, w);
  v.doubleWords.set("bow tie", "tie");
  v.doubleWords.set("toilet seat", "toilet");
  v.doubleWords.set("wine glas", "wine glass");
  v.toiletSeatRule = true;
  return v;
}

export const COCO_VOCAB: ChairVocab = cocoVocab();

/** Every single word that appears in the vocabulary or its two-word phrases (the lemmatiser's targets). */
export function vocabWords(v: ChairVocab): Set<string> {
  const out = new Set<string>();
  for (const w of [...v.objects, ...v.doubleWords.keys(), ...v.doubleWords.values()]) for (const p of w.split(" ")) if (p) out.add(p);
  return out;
}
