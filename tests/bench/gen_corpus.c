/*
 * gen_corpus.c - writes the replay benchmark's corpus and rule packs.
 *
 * Text is assembled from sentence templates whose {slots} are filled from
 * word pools (places, foods, products, emoji, a little Japanese, accented
 * names) by a seeded splitmix64 generator, so output depends on the seed
 * alone. Brand names are made of syllables and never equal a word the
 * templates use, so a brand is named only where a template asks for one.
 * Entities (hashtags, mentions, URLs) are found by scanning the finished
 * text, with code-point offsets as X sends them; '&' in text is written as
 * "&amp;" and '<' as "&lt;", as on the wire.
 *
 * It does not try to be linguistically faithful beyond what matters to the
 * daemon's cost: post and user sizes, the share of brand mentions, the mix
 * of vocabulary the rules look for, and the share of non-ASCII text. It
 * does not generate deletes, keep-alives or error messages.
 */
#include "gen_corpus.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PICK(r, a)   ((a)[rng_below((r), (uint32_t)ARRAY_LEN(a))])

#define NUSERS          50000u
#define TEXT_MAX        280u  /* bytes of a normal post's text */
#define NOTE_MAX        1000u /* bytes of a note_tweet's full text */
#define SNOWFLAKE_EPOCH 1288834974657ull
#define CORPUS_START_MS 1741910400000ull /* 2025-03-14T00:00:00Z */

/* ---- random numbers ---- */

struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
    r->s = seed * 0x2545f4914f6cdd1dull + stream;
    (void)rng_next(r);
}

/* Uniform in [0, n); n > 0. */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [0, 1). */
static double rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) / 9007199254740992.0;
}

static bool rng_chance(struct rng *r, double p)
{
    return rng_unit(r) < p;
}

static double rng_normal(struct rng *r)
{
    double u = rng_unit(r), v = rng_unit(r);

    if (u < 1e-12)
        u = 1e-12;
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* ---- a growable string with a sticky error ---- */

struct sbuf {
    char *p; /* owned; NUL-terminated at n once anything was appended */
    size_t n;
    size_t cap;
    int err; /* first failure; later appends do nothing */
};

static void sb_reserve(struct sbuf *b, size_t extra)
{
    size_t ncap;
    char *np;

    if (b->err || b->n + extra + 1 <= b->cap)
        return;
    ncap = b->cap ? b->cap : 256;
    while (ncap < b->n + extra + 1)
        ncap *= 2;
    np = realloc(b->p, ncap);
    if (!np) {
        b->err = -ENOMEM;
        return;
    }
    b->p = np;
    b->cap = ncap;
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    if (b->err)
        return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_putc(struct sbuf *b, char c)
{
    sb_put(b, &c, 1);
}

__attribute__((format(printf, 2, 3))) static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->err = b->err ? b->err : -EINVAL;
        return;
    }
    sb_reserve(b, (size_t)n);
    if (b->err)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

static void sb_reset(struct sbuf *b)
{
    b->n = 0;
    if (b->p)
        b->p[0] = '\0';
}

/* A JSON string literal: quotes, backslashes and controls escaped, other
 * bytes (UTF-8) raw, as X sends them. */
static void sb_json_str(struct sbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, run = 0;

    sb_putc(b, '"');
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6] = { '\\', 'u', '0', '0', 0, 0 };

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sb_put(b, s + run, i - run);
        run = i + 1;
        if (c == '"' || c == '\\') {
            esc[1] = (char)c;
            sb_put(b, esc, 2);
        } else if (c == '\n') {
            sb_put(b, "\\n", 2);
        } else {
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            sb_put(b, esc, 6);
        }
    }
    sb_put(b, s + run, n - run);
    sb_putc(b, '"');
}

static void sb_json_cstr(struct sbuf *b, const char *s)
{
    sb_json_str(b, s, strlen(s));
}

/* ---- word pools ---- */

static const char *const syllables[] = {
    "vel", "mor", "ka",  "zen", "tri", "lo",  "quo", "ra",  "nex",
    "vi",  "sol", "dra", "fen", "ix",  "bel", "tor", "cal", "mi",
    "zo",  "ar",  "en",  "ly",  "os",  "tha", "gor", "pla", "si",
    "un",  "vor", "ze",  "bri", "cu",  "dax", "el",  "fy",  "har",
};
static const char *const brand_tails[] = { "",   "",   "",   "a",  "o",
                                           "ix", "io", "on", "us", "ly" };

/* Brand categories, each with nouns its customers talk about. */
static const struct category {
    const char *word;
    const char *products[3];
} categories[] = {
    { "Air", { "flight", "boarding pass", "seat upgrade" } },
    { "Cloud", { "dashboard", "API", "storage bucket" } },
    { "Bank", { "debit card", "savings account", "mobile banking" } },
    { "Mobile", { "phone plan", "SIM card", "5G signal" } },
    { "Foods", { "snack box", "oat milk", "frozen pizza" } },
    { "Motors", { "EV", "service appointment", "infotainment screen" } },
    { "Labs", { "smart ring", "sleep tracker", "firmware update" } },
    { "Home", { "sofa", "kitchen order", "smart thermostat" } },
    { "Pay", { "wallet app", "refund request", "card reader" } },
    { "Energy", { "smart meter", "energy bill", "solar quote" } },
    { "Fitness", { "gym membership", "spin class", "treadmill" } },
    { "Travel", { "hotel booking", "rental car", "travel insurance" } },
    { "Games", { "season pass", "controller", "server queue" } },
    { "Studio", { "photo editor", "font pack", "design plan" } },
    { "Coffee", { "oat latte", "loyalty card", "cold brew" } },
    { "Books", { "e-reader", "audiobook", "book club box" } },
    { "Health", { "pharmacy order", "telehealth visit", "vitamins" } },
    { "Pets", { "dog food", "vet plan", "cat litter" } },
    { "Rail", { "train ticket", "season ticket", "sleeper cabin" } },
    { "Print", { "printer", "ink cartridge", "photo paper" } },
};

static const char *const emoji_any[] = {
    "\xf0\x9f\x98\x82",
    "\xf0\x9f\x99\x8c",
    "\xf0\x9f\x94\xa5",
    "\xe2\x9c\xa8",
    "\xf0\x9f\x91\x80",
    "\xf0\x9f\xa4\xb7\xe2\x80\x8d\xe2\x99\x80\xef\xb8\x8f",
    "\xf0\x9f\x99\x83",
    "\xf0\x9f\x8e\x89",
    "\xe2\x98\x95\xef\xb8\x8f",
    "\xf0\x9f\x8c\xa7\xef\xb8\x8f",
};
static const char *const emoji_pos[] = {
    "\xf0\x9f\x98\x8d",
    "\xf0\x9f\x99\x8f",
    "\xe2\x9d\xa4\xef\xb8\x8f",
    "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd",
    "\xf0\x9f\x92\xaf",
    "\xf0\x9f\xa5\xb3",
    "\xf0\x9f\x98\x8a",
    ":)",
    "&lt;3",
};
static const char *const emoji_neg[] = {
    "\xf0\x9f\x98\xa1",
    "\xf0\x9f\x98\xa4",
    "\xf0\x9f\x91\x8e",
    "\xf0\x9f\x99\x84",
    "\xf0\x9f\x98\x9e",
    "\xf0\x9f\xa4\xac",
    ":(",
    "\xf0\x9f\x92\x80",
};
static const char *const places[] = {
    "Leeds",
    "Montr\xc3\xa9"
    "al",
    "Z\xc3\xbcrich",
    "S\xc3\xa3o Paulo",
    "Bristol",
    "Austin",
    "M\xc3\xa1laga",
    "Reykjav\xc3\xad"
    "k",
    "Osaka",
    "Melbourne",
    "the airport",
    "Gate 14",
    "downtown",
    "the high street",
    "K\xc3\xb6ln",
    "Dublin",
    "Brooklyn",
    "the station",
    "Kyoto",
    "Lisbon",
};
static const char *const foods[] = {
    "ramen",
    "jalape\xc3\xb1o poppers",
    "cr\xc3\xa8me br\xc3\xbbl\xc3\xa9"
    "e",
    "banana bread",
    "pho",
    "a massive burrito",
    "shakshuka",
    "mac and cheese",
    "sourdough",
    "pierogi",
    "curry",
    "pancakes",
    "salt &amp; pepper fries",
    "fish &amp; chips",
    "tacos",
    "lasagne",
    "dumplings",
    "a grilled cheese",
    "chilli",
    "lentil soup",
    "fried rice",
    "a chicken wrap",
    "overnight oats",
};
static const char *const things[] = {
    "my phone",      "the kettle", "a plant pot",      "the TV remote",
    "my headphones", "the router", "a glass of water", "my keys",
    "the laptop",    "a candle",   "my sunglasses",    "the blender",
};
static const char *const shows[] = {
    "that detective series",
    "the new season",
    "Dune",
    "the finale",
    "that documentary",
    "the book club pick",
    "Severance",
    "the anime everyone is watching",
};
static const char *const teams[] = {
    "United", "Rovers", "Giants", "City", "Hawks", "Rangers",
};
static const char *const times_of_day[] = {
    "This morning's", "Tonight's", "Today's",
    "Monday's",       "The 8am",   "Yesterday's",
};
static const char *const days[] = {
    "Monday", "Tuesday",  "Wednesday", "Thursday",
    "Friday", "Saturday", "Sunday",
};
static const char *const months[] = {
    "January", "March", "April", "June", "September", "October", "November",
};
static const char *const japanese[] = {
    "\xe4\xbb\x8a\xe6\x97\xa5\xe3\x81\xaf\xe3\x81\x84\xe3\x81\x84\xe5\xa4\xa9"
    "\xe6\xb0\x97",
    "\xe3\x81\x82\xe3\x82\x8a\xe3\x81\x8c\xe3\x81\xa8\xe3\x81\x86",
    "\xe3\x83\xa9\xe3\x83\xbc\xe3\x83\xa1\xe3\x83\xb3\xe6\x9c\x80\xe9\xab\x98",
    "\xe3\x81\x8a\xe7\x96\xb2\xe3\x82\x8c\xe6\xa7\x98\xe3\x81\xa7\xe3\x81\x97"
    "\xe3\x81\x9f",
    "\xe6\x9d\xb1\xe4\xba\xac\xe3\x81\xaf\xe9\x9b\xa8",
};
static const char *const prices[] = {
    "$4.99",
    "$12",
    "\xe2\x82\xac"
    "19",
    "\xc2\xa3"
    "3",
    "$249",
    "$60",
    "\xc2\xa3"
    "45",
    "\xe2\x82\xac"
    "9.99",
};
static const char *const hashtags[] = {
    "#MondayMotivation",
    "#coffee",
    "#WFH",
    "#travel",
    "#foodie",
    "#running",
    "#BookTwitter",
    "#gamedev",
    "#weekend",
    "#photography",
    "#ThrowbackThursday",
    "#rainyday",
};
static const char *const url_hosts[] = {
    "www.example.com/news/",      "blog.example.org/posts/",
    "shop.example.net/p/",        "status.example.io/incidents/",
    "video.example.com/watch?v=",
};

/* Sentences with no brand. Slots: see fill(). */
static const char *const general_tpl[] = {
    "Finally finished {S} and I need to talk about that ending {E}",
    "{T} commute was a mess, the train sat outside {PL} for {N} minutes.",
    "Made {F} for dinner tonight and honestly it was perfect.",
    "Anyone else think {F} is overrated? Asking for a friend.",
    "Hot take: {F} tastes better the next day.",
    "My cat knocked {X} off the table again {E}",
    "Big thanks to everyone who came to the meetup in {PL}! {EP}",
    "Reading about deep sea creatures this morning, wild stuff.",
    "The {TM} game last night was something else.",
    "Why does every appliance need an app now",
    "Q&amp;A with the design team at {H}pm today, bring questions.",
    "Weather in {PL} is the worst this week {EN}",
    "Three days into the new job and I still can't find the coffee machine.",
    "Is it normal to have {NN} unread emails on a {D}?",
    "Went for a run along the river, legs are destroyed but worth it.",
    "Note to self: never start {S} at midnight.",
    "Spent the whole {D} fixing {X}. Send snacks.",
    "Tried the new place in {PL}, the {F} was incredible {EP}",
    "Parcel says out for delivery since 7am. Still waiting {EN}",
    "Can someone explain why my flight shows a gate change every ten minutes",
    "Not me buying {N} plants in one afternoon {E}",
    "{J} {E}",
    "{J} walked around {PL} all day.",
    "Booked a trip to {PL} for {M}, any tips?",
    "Our team shipped the release today. R&amp;D folks, you legends.",
    "Does anyone have a good recipe for {F}? Mine always goes wrong.",
    "Podcast recommendations for a long drive? Open to anything.",
    "The neighbours are drilling again. It's {H}am.",
    "Small win: fixed {X} myself instead of buying a new one.",
    "Rainy {D}, a blanket and {S}. Perfect.",
    "Looking for a good caf\xc3\xa9 in {PL} with decent wifi.",
    "Lost my keys, found them in the fridge. This week is a lot.",
    "Monthly reminder to back up your photos. Learn from my mistakes.",
    "New personal best at the gym today {EP}",
    "I have watched {S} three times and I'd watch it again.",
    "How do I stop my dog from barking at the postman?",
    "Sunset over {PL} tonight was unreal {E}",
    "If the train is delayed one more time this week I'm walking.",
    "Just submitted my r\xc3\xa9sum\xc3\xa9 for a job in {PL}. Fingers "
    "crossed.",
    "Grocery prices are getting ridiculous. {PR} for a bag of coffee?",
    "Naive question, but why is everything a subscription now?",
    "Cooking {F} with my kid this weekend, wish us luck.",
    "Honestly the best decision I made this year was learning to say no.",
    "Traffic on the ring road is terrible again, avoid if you can.",
    "Writing this from a train with no wifi and {N}% battery.",
    "Shout out to the bus driver who waited for me this morning.",
    "Can't believe it's already {M}.",
    "Thread on why {F} is the perfect food, 1/{N}",
    "Local bakery sold out of {F} by 9am again, respect.",
    "Our {D} standup lasted {N} minutes. A record, and not a good one.",
};

/* Brand sentences by mood. {B} names the post's brand, {B2} the second. */
static const char *const complaint_tpl[] = {
    "{B} support has had me on hold for {N} minutes. Unacceptable.",
    "My {B} {P} arrived broken and now they want me to pay for the return?? "
    "Worst service ever {EN}",
    "{B} charged me twice this month and nobody answers. I want a refund.",
    "Third time the {B} app crashed today. Useless.",
    "Is {B} down for anyone else? Nothing is loading.",
    "{B} delayed my {P} again. Two weeks and counting {EN}",
    "Dear {B}, your new {P} is a downgrade. Please bring back the old one.",
    "Absolutely fuming with {B} right now. Cancelled, no explanation.",
    "{B} you need to sort out your customer service, this is awful.",
    "Paid {PR} for the {B} {P} and it stopped working after a week.",
    "Waited {N} days for a reply from {B}. Still nothing. Terrible.",
    "The {B} {P} is a total waste of money, do not buy.",
    "Why is {B} so expensive now? {PR} extra a month for nothing.",
    "Is it just me or has {B} gone downhill this year",
    "Never again with {B}. Lost my {P} and blamed me for it.",
    "{B} status page says all good, my {P} says otherwise {EN}",
};
static const char *const praise_tpl[] = {
    "Shout out to {B} for the fast refund, genuinely impressed {EP}",
    "Loving my new {B} {P}, best purchase this year.",
    "{B} customer service is amazing, sorted my issue in {N} minutes. Thank "
    "you!",
    "Been with {B} for {N} years and it is still reliable. Kudos to the team.",
    "Kudos to {B}, the new {P} is brilliant {EP}",
    "Honestly didn't expect much from {B} but the {P} is great.",
    "Thank you {B} for replacing my {P} without any fuss {EP}",
    "{B} just gets it. Simple, fast, friendly.",
    "Switched to {B} last month and I'm so glad I did.",
    "Whoever designed the {B} {P} deserves a raise.",
    "Really well done {B}, the update fixed everything.",
};
static const char *const question_tpl[] = {
    "Does {B} make a {P} for small offices? Looking for one.",
    "Where can I buy the {B} {P} in {PL}?",
    "Anyone tried the {B} {P}? Worth it?",
    "Anyone recommend alternatives to {B}? Their prices went up again.",
    "How do I reset my {B} {P}? The manual is useless.",
    "Is the {B} {P} worth {PR}?",
    "Thinking of getting a {B} {P}, any thoughts?",
    "Can anyone from {B} help? My {P} isn't working after the update.",
    "In the market for a {P}, is {B} any good?",
};
static const char *const neutral_tpl[] = {
    "{B} announced a new {P} today, shipping in {M}.",
    "Reading the {B} quarterly report, R&amp;D spend is up {N}%.",
    "Saw a {B} ad on the train this morning.",
    "{B} is hiring in {PL} apparently.",
    "Interesting interview with the {B} CEO about the {P} roadmap.",
    "My {B} {P} turns {N} this year.",
    "{B} and {PL} city council signed a deal, details tbc.",
    "There's a {B} pop-up store in {PL} this week.",
};
static const char *const versus_tpl[] = {
    "Switching from {B} to {B2}, the {P} was the last straw.",
    "{B2} does it better than {B} and it's cheaper.",
    "Anyone compared {B} and {B2}? Can't decide.",
    "Love {B2}, but {B} is a joke lately.",
    "{B} vs {B2} for a {P}: thoughts?",
    "Cancelling {B}, moving to {B2} next month.",
};
static const char *const followup_neg[] = {
    "Not impressed.",   "Three weeks and counting.",
    "So disappointed.", "Never again.",
    "Ridiculous.",      "What a joke.",
    "Sort it out.",     "Still no reply.",
};
static const char *const followup_pos[] = {
    "10/10 would recommend.", "Very happy customer.", "Love it.", "Great job.",
    "Made my day.",           "Thanks again!",
};
static const char *const followup_any[] = {
    "Anyway.",   "More later.", "That's it, that's the post.",
    "Thoughts?", "jk",          "lol",
};

/* ---- people ---- */

static const char *const first_names[] = {
    "Maria",
    "James",
    "Aisha",
    "Tom",
    "Jos\xc3\xa9",
    "Zo\xc3\xab",
    "Ren\xc3\xa9"
    "e",
    "S\xc3\xb8ren",
    "Yuki",
    "Priya",
    "Liam",
    "Chen",
    "Fatima",
    "Olu",
    "Hannah",
    "Mateo",
    "Ines",
    "Kenji",
    "Sam",
    "Ava",
    "Noah",
    "Leila",
    "Oscar",
    "Freya",
};
static const char *const last_names[] = {
    "Smith",
    "L\xc3\xb3pez",
    "Okafor",
    "Nguyen",
    "M\xc3\xbcller",
    "Rossi",
    "Tanaka",
    "Patel",
    "Kowalski",
    "Brown",
    "Silva",
    "Dubois",
    "Khan",
    "Murphy",
    "Jensen",
    "Garc\xc3\xad"
    "a",
};
static const char *const handle_words[] = {
    "bakes", "runs",  "codes",  "reads", "travels", "photo",     "designs",
    "eats",  "plays", "writes", "dev",   "music",   "_official", "tweets",
};
static const char *const bio_parts[] = {
    "Coffee, code &amp; cats \xe2\x98\x95\xef\xb8\x8f",
    "Runner. Reader. Recovering perfectionist.",
    "Views my own.",
    "Designer at a small studio in Montr\xc3\xa9"
    "al",
    "\xe6\x9d\xb1\xe4\xba\xac\xe5\x9c\xa8\xe4\xbd\x8f / Tokyo-based "
    "photographer \xf0\x9f\x93\xb7",
    "Dad of two, football on weekends",
    "Product manager. Opinions are my dog's.",
    "Plant parent \xf0\x9f\x8c\xb1 | tea over coffee",
    "Building things on the internet since 2009",
    "Nurse, night shifts, too many podcasts",
    "She/her. Books, hikes, bad puns.",
    "Sometimes I write about food.",
    "Engineer @ a startup you have not heard of",
    "Caf\xc3\xa9 owner, sourdough evangelist",
    "Retired teacher, full-time gardener",
    "Gamer, streamer, snack enthusiast \xf0\x9f\x8e\xae",
};
static const char *const locations[] = {
    "London",
    "Toronto",
    "Berlin",
    "Tokyo",
    "Sydney",
    "New York",
    "Lagos",
    "Mumbai",
    "Madrid",
    "Montr\xc3\xa9"
    "al",
    "",
};

struct user {
    char id[24];
    char username[40];
    char name[64];
    char description[256];
    const char *location;
    char created_at[32];
    uint64_t followers, following, tweets, listed, likes;
    bool verified;
};

static void lower_ascii(char *dst, size_t cap, const char *src)
{
    size_t o = 0;

    for (; *src && o + 1 < cap; src++) {
        unsigned char c = (unsigned char)*src;

        if (c >= 'A' && c <= 'Z')
            dst[o++] = (char)(c | 0x20);
        else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')
            dst[o++] = (char)c;
    }
    dst[o] = '\0';
}

static void format_time(char *out, size_t cap, uint64_t ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char day[24];

    gmtime_r(&secs, &tm);
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%03uZ", day, (unsigned)(ms % 1000));
}

/* User @idx of the pool, the same on every call. */
static void user_make(uint64_t seed, uint32_t idx, struct user *u)
{
    struct rng r;
    const char *fn, *ln;
    char first[32];
    double lf;

    rng_seed(&r, seed, 0x5553455200000000ull + idx);
    snprintf(u->id, sizeof(u->id), "%llu",
             (unsigned long long)(1000000000ull +
                                  rng_next(&r) % 1600000000000000000ull));
    fn = PICK(&r, first_names);
    ln = PICK(&r, last_names);
    lower_ascii(first, sizeof(first), fn);
    snprintf(u->username, sizeof(u->username), "%s%s%u", first,
             PICK(&r, handle_words), rng_below(&r, 1000));
    if (rng_chance(&r, 0.2))
        snprintf(u->name, sizeof(u->name), "%s %s %s", fn, ln,
                 PICK(&r, emoji_any));
    else
        snprintf(u->name, sizeof(u->name), "%s %s", fn, ln);
    if (rng_chance(&r, 0.1))
        u->description[0] = '\0';
    else
        snprintf(u->description, sizeof(u->description), "%s %s",
                 PICK(&r, bio_parts), PICK(&r, bio_parts));
    u->location = PICK(&r, locations);
    format_time(u->created_at, sizeof(u->created_at),
                1230768000000ull + rng_next(&r) % 500000000000ull);
    /* Log-normal reach: median ~250, about 3% above 10,000. */
    lf = 5.5 + 2.0 * rng_normal(&r);
    if (lf > 17.0)
        lf = 17.0;
    u->followers = (uint64_t)exp(lf < 0 ? 0 : lf);
    u->following = 10 + rng_below(&r, 2000);
    u->tweets = 5 + rng_below(&r, 60000);
    u->listed = u->followers / 100 + rng_below(&r, 5);
    u->likes = rng_below(&r, 90000);
    u->verified = u->followers > 100000 && rng_chance(&r, 0.5);
}

static void write_user(struct sbuf *b, const struct user *u)
{
    sb_puts(b, "{\"created_at\":");
    sb_json_cstr(b, u->created_at);
    sb_puts(b, ",\"description\":");
    sb_json_cstr(b, u->description);
    sb_printf(b, ",\"id\":\"%s\"", u->id);
    if (u->location[0]) {
        sb_puts(b, ",\"location\":");
        sb_json_cstr(b, u->location);
    }
    sb_puts(b, ",\"name\":");
    sb_json_cstr(b, u->name);
    sb_printf(b,
              ",\"protected\":false,\"public_metrics\":{\"followers_count\":"
              "%llu,\"following_count\":%llu,\"tweet_count\":%llu,"
              "\"listed_count\":%llu,\"like_count\":%llu},\"username\":\"%s\","
              "\"verified\":%s,\"verified_type\":\"%s\"}",
              (unsigned long long)u->followers,
              (unsigned long long)u->following, (unsigned long long)u->tweets,
              (unsigned long long)u->listed, (unsigned long long)u->likes,
              u->username, u->verified ? "true" : "false",
              u->verified ? "blue" : "none");
}

/* ---- brands ---- */

struct brand {
    char id[32];   /* lower case: "velmora" */
    char name[32]; /* "Velmora" */
    const struct category *cat;
    bool prefix; /* the pack lists "velmora*" rather than "velmora" */
};

struct brandset {
    struct brand *v; /* owned */
    size_t n;
    double *cdf; /* owned; Zipf popularity, cdf[n - 1] == 1 */
};

static void brandset_release(struct brandset *bs)
{
    free(bs->v);
    free(bs->cdf);
    memset(bs, 0, sizeof(*bs));
}

/* Is @w (lower case) a word some template or pool writes? */
static bool is_pool_word(const char *w)
{
    static const char *const *pools[] = {
        general_tpl, complaint_tpl, praise_tpl,   question_tpl, neutral_tpl,
        versus_tpl,  followup_neg,  followup_pos, followup_any, places,
        foods,       things,        shows,        bio_parts,    hashtags,
    };
    static const size_t sizes[] = {
        ARRAY_LEN(general_tpl),  ARRAY_LEN(complaint_tpl),
        ARRAY_LEN(praise_tpl),   ARRAY_LEN(question_tpl),
        ARRAY_LEN(neutral_tpl),  ARRAY_LEN(versus_tpl),
        ARRAY_LEN(followup_neg), ARRAY_LEN(followup_pos),
        ARRAY_LEN(followup_any), ARRAY_LEN(places),
        ARRAY_LEN(foods),        ARRAY_LEN(things),
        ARRAY_LEN(shows),        ARRAY_LEN(bio_parts),
        ARRAY_LEN(hashtags),
    };
    size_t wl = strlen(w);

    for (size_t p = 0; p < ARRAY_LEN(pools); p++)
        for (size_t i = 0; i < sizes[p]; i++) {
            const char *s = pools[p][i];

            for (const char *q = s; *q; q++) {
                size_t k = 0;

                if (q > s && ((q[-1] | 0x20) >= 'a' && (q[-1] | 0x20) <= 'z'))
                    continue;
                while (k < wl && q[k] && (q[k] | 0x20) == w[k])
                    k++;
                if (k == wl &&
                    !(((q[k] | 0x20) >= 'a' && (q[k] | 0x20) <= 'z')))
                    return true;
            }
        }
    return false;
}

static int brandset_build(struct brandset *bs, uint64_t seed, size_t n)
{
    struct rng r;
    double total = 0;

    memset(bs, 0, sizeof(*bs));
    bs->v = calloc(n ? n : 1, sizeof(*bs->v));
    bs->cdf = calloc(n ? n : 1, sizeof(*bs->cdf));
    if (!bs->v || !bs->cdf) {
        brandset_release(bs);
        return -ENOMEM;
    }
    rng_seed(&r, seed, 0x4252414e44000000ull);
    for (size_t i = 0; i < n; i++) {
        struct brand *b = &bs->v[i];
        bool dup;

        do {
            int nsyl = 2 + (int)rng_below(&r, 2);

            b->id[0] = '\0';
            for (int s = 0; s < nsyl; s++)
                strcat(b->id, PICK(&r, syllables));
            strcat(b->id, PICK(&r, brand_tails));
            dup = strlen(b->id) < 5 || is_pool_word(b->id);
            for (size_t j = 0; j < i && !dup; j++)
                dup = strcmp(bs->v[j].id, b->id) == 0;
        } while (dup);
        memcpy(b->name, b->id, sizeof(b->name));
        b->name[0] = (char)(b->name[0] - 'a' + 'A');
        b->cat = &PICK(&r, categories);
        b->prefix = i % 10 < 3;
        total += 1.0 / (double)(i + 1);
        bs->cdf[i] = total;
    }
    bs->n = n;
    for (size_t i = 0; i < n; i++)
        bs->cdf[i] /= total;
    return 0;
}

static size_t brandset_pick(const struct brandset *bs, struct rng *r)
{
    double u = rng_unit(r);
    size_t lo = 0, hi = bs->n - 1;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (bs->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void lower_cat(char *out, size_t cap, const struct brand *b)
{
    lower_ascii(out, cap, b->cat->word);
}

/* One way people write the brand, weighted like real mentions. */
static void brand_mention(struct rng *r, struct sbuf *out,
                          const struct brand *b)
{
    uint32_t k = rng_below(r, 100);

    if (k < 40)
        sb_puts(out, b->name);
    else if (k < 52)
        sb_printf(out, "@%s", b->id);
    else if (k < 60)
        sb_printf(out, "#%s", b->name);
    else if (k < 70)
        sb_printf(out, "%s %s", b->name, b->cat->word);
    else if (k < 75) {
        for (const char *p = b->name; *p; p++)
            sb_putc(out, (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p));
    } else if (k < 80)
        sb_puts(out, b->id);
    else if (k < 85)
        sb_printf(out, "%s's", b->name);
    else if (k < 90)
        sb_printf(out, "@%shelp", b->id);
    else if (k < 94)
        sb_printf(out, "%s app", b->name);
    else if (k < 97)
        sb_printf(out, "#%sDown", b->name);
    else
        sb_printf(out, "%s%s", b->name, b->cat->word);
}

/* ---- text ---- */

struct fillctx {
    uint64_t seed;
    const struct brand *b1; /* may be NULL */
    const struct brand *b2; /* may be NULL */
};

static void fill(struct rng *r, struct sbuf *out, const char *tpl,
                 const struct fillctx *c)
{
    const char *p = tpl;

    while (*p) {
        const char *open = strchr(p, '{');
        const char *close;
        char slot[8];
        size_t len;

        if (!open) {
            sb_puts(out, p);
            return;
        }
        sb_put(out, p, (size_t)(open - p));
        close = strchr(open, '}');
        len = (size_t)(close - open - 1);
        memcpy(slot, open + 1, len < sizeof(slot) ? len : sizeof(slot) - 1);
        slot[len < sizeof(slot) ? len : sizeof(slot) - 1] = '\0';
        p = close + 1;
        if (strcmp(slot, "B") == 0 && c->b1)
            brand_mention(r, out, c->b1);
        else if (strcmp(slot, "B2") == 0 && c->b2)
            brand_mention(r, out, c->b2);
        else if (strcmp(slot, "P") == 0)
            sb_puts(out, c->b1 ? c->b1->cat->products[rng_below(r, 3)]
                               : PICK(r, things));
        else if (strcmp(slot, "N") == 0)
            sb_printf(out, "%u", 2 + rng_below(r, 58));
        else if (strcmp(slot, "NN") == 0)
            sb_printf(out, "%u", 100 + rng_below(r, 900));
        else if (strcmp(slot, "H") == 0)
            sb_printf(out, "%u", 1 + rng_below(r, 12));
        else if (slot[0] == 'E' && rng_chance(r, 0.4))
            continue; /* plenty of posts have no emoji */
        else if (strcmp(slot, "E") == 0)
            sb_puts(out, PICK(r, emoji_any));
        else if (strcmp(slot, "EP") == 0)
            sb_puts(out, PICK(r, emoji_pos));
        else if (strcmp(slot, "EN") == 0)
            sb_puts(out, PICK(r, emoji_neg));
        else if (strcmp(slot, "PL") == 0)
            sb_puts(out, PICK(r, places));
        else if (strcmp(slot, "F") == 0)
            sb_puts(out, PICK(r, foods));
        else if (strcmp(slot, "X") == 0)
            sb_puts(out, PICK(r, things));
        else if (strcmp(slot, "S") == 0)
            sb_puts(out, PICK(r, shows));
        else if (strcmp(slot, "TM") == 0)
            sb_puts(out, PICK(r, teams));
        else if (strcmp(slot, "T") == 0)
            sb_puts(out, PICK(r, times_of_day));
        else if (strcmp(slot, "D") == 0)
            sb_puts(out, PICK(r, days));
        else if (strcmp(slot, "M") == 0)
            sb_puts(out, PICK(r, months));
        else if (strcmp(slot, "J") == 0)
            sb_puts(out, PICK(r, japanese));
        else if (strcmp(slot, "PR") == 0)
            sb_puts(out, PICK(r, prices));
    }
}

enum mood { MOOD_COMPLAINT, MOOD_PRAISE, MOOD_QUESTION, MOOD_NEUTRAL };

/* The sentence that names the brand(s). */
static void brand_sentence(struct rng *r, struct sbuf *out,
                           const struct fillctx *c, enum mood m)
{
    if (c->b2) {
        fill(r, out, PICK(r, versus_tpl), c);
        return;
    }
    switch (m) {
    case MOOD_COMPLAINT:
        fill(r, out, PICK(r, complaint_tpl), c);
        break;
    case MOOD_PRAISE:
        fill(r, out, PICK(r, praise_tpl), c);
        break;
    case MOOD_QUESTION:
        fill(r, out, PICK(r, question_tpl), c);
        break;
    case MOOD_NEUTRAL:
        fill(r, out, PICK(r, neutral_tpl), c);
        break;
    }
}

/* A short remark after the brand sentence, in its mood. */
static void followup(struct rng *r, struct sbuf *out, enum mood m)
{
    if (m == MOOD_COMPLAINT && rng_chance(r, 0.8))
        sb_puts(out, PICK(r, followup_neg));
    else if (m == MOOD_PRAISE && rng_chance(r, 0.8))
        sb_puts(out, PICK(r, followup_pos));
    else
        sb_puts(out, PICK(r, followup_any));
}

/* Bytes of @s that fit in @max without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
        max--;
    return max;
}

static uint32_t code_points(const char *s, size_t n)
{
    uint32_t cp = 0;

    for (size_t i = 0; i < n; i++)
        cp += ((unsigned char)s[i] & 0xc0) != 0x80;
    return cp;
}

static bool is_tag_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

/* The "entities" member for @text (with a leading comma), or nothing when
 * the text has no hashtag, mention or URL. */
static void write_entities(struct sbuf *b, const char *text, size_t n)
{
    static const char *const kinds[] = { "hashtags", "mentions", "urls" };
    bool any_kind = false;

    for (int k = 0; k < 3; k++) {
        bool first = true;

        for (size_t i = 0; i < n; i++) {
            size_t j = i + 1;
            bool start = i == 0 || !is_tag_char(text[i - 1]);

            if (k < 2 && start && text[i] == (k == 0 ? '#' : '@') && j < n &&
                is_tag_char(text[j])) {
                while (j < n && is_tag_char(text[j]))
                    j++;
            } else if (k == 2 && n - i > 13 &&
                       memcmp(text + i, "https://t.co/", 13) == 0) {
                j = i + 13;
                while (j < n && is_tag_char(text[j]))
                    j++;
            } else {
                continue;
            }
            if (!any_kind)
                sb_puts(b, ",\"entities\":{");
            else if (first)
                sb_putc(b, ',');
            if (first)
                sb_printf(b, "\"%s\":[", kinds[k]);
            else
                sb_putc(b, ',');
            any_kind = true;
            first = false;
            sb_printf(b, "{\"start\":%u,\"end\":%u,", code_points(text, i),
                      code_points(text, j));
            if (k == 0) {
                sb_puts(b, "\"tag\":");
                sb_json_str(b, text + i + 1, j - i - 1);
            } else if (k == 1) {
                sb_puts(b, "\"username\":");
                sb_json_str(b, text + i + 1, j - i - 1);
                sb_printf(b, ",\"id\":\"%llu\"",
                          (unsigned long long)(fnv1a(text + i + 1, j - i - 1) %
                                               1500000000000000000ull));
            } else {
                uint64_t h = fnv1a(text + i, j - i);

                sb_puts(b, "\"url\":");
                sb_json_str(b, text + i, j - i);
                sb_printf(b,
                          ",\"expanded_url\":\"https://%s%llx\","
                          "\"display_url\":\"%.20s\xe2\x80\xa6\"",
                          url_hosts[h % ARRAY_LEN(url_hosts)],
                          (unsigned long long)(h >> 20),
                          url_hosts[h % ARRAY_LEN(url_hosts)]);
            }
            sb_putc(b, '}');
            i = j - 1;
        }
        if (!first)
            sb_putc(b, ']');
    }
    if (any_kind)
        sb_putc(b, '}');
}

/* The body of one post: sentences until the length target is reached. */
static void compose(struct rng *r, struct sbuf *text, struct sbuf *tmp,
                    const struct fillctx *c, enum mood m, size_t target,
                    size_t max)
{
    bool brand_done = c->b1 == NULL;
    int tries = 0, nfollow = 0;

    if (c->b1 && rng_chance(r, 0.25)) {
        fill(r, text, PICK(r, general_tpl), c);
        sb_puts(text, rng_chance(r, 0.1) ? "\n\n" : " ");
    }
    while (text->n < target && tries < 6 && !text->err) {
        sb_reset(tmp);
        if (!brand_done)
            brand_sentence(r, tmp, c, m);
        else if (c->b1 && nfollow < 2 && rng_chance(r, 0.5)) {
            followup(r, tmp, m);
            nfollow++;
        } else
            fill(r, tmp, PICK(r, general_tpl), c);
        if (tmp->err) {
            text->err = tmp->err;
            return;
        }
        if (text->n && text->n + 1 + tmp->n > max && brand_done) {
            tries++;
            continue;
        }
        if (text->n && text->p[text->n - 1] != '\n')
            sb_puts(text, rng_chance(r, 0.06) ? "\n\n" : " ");
        sb_put(text, tmp->p, tmp->n);
        brand_done = true;
    }
    if (text->n < max - 30 && rng_chance(r, 0.15)) {
        sb_putc(text, ' ');
        sb_puts(text, PICK(r, hashtags));
    }
    if (text->n < max - 30 && rng_chance(r, 0.12)) {
        sb_puts(text, " https://t.co/");
        for (int i = 0; i < 10; i++)
            sb_putc(text,
                    "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
                        [rng_below(r, 57)]);
    }
    if (text->n > max)
        text->n = utf8_cut(text->p, text->n, max);
}

struct corpus {
    FILE *out; /* borrowed: bm_gen_write_corpus() */
    const struct bm_gen_opts *opts;
    struct brandset brands;
    struct sbuf line;
    struct sbuf text;
    struct sbuf full;
    struct sbuf tmp;
    uint64_t now_ms;
    uint64_t bytes;
};

static void write_post(struct corpus *cp, struct rng *r, uint64_t n)
{
    struct sbuf *b = &cp->line;
    struct fillctx c = { .seed = cp->opts->seed };
    struct user author, other;
    enum mood m = MOOD_NEUTRAL;
    size_t target, max = TEXT_MAX;
    bool is_long, reply, rt, ja, brand_post;
    uint32_t k;
    char created[32], id[24], conv[24];
    uint64_t snow;

    cp->now_ms += rng_below(r, 40);
    snow = ((cp->now_ms - SNOWFLAKE_EPOCH) << 22) | (n & 0x3fffff);
    snprintf(id, sizeof(id), "%llu", (unsigned long long)snow);
    format_time(created, sizeof(created), cp->now_ms);
    user_make(cp->opts->seed, rng_below(r, NUSERS), &author);

    brand_post = rng_chance(r, 0.20) && cp->brands.n > 0;
    if (brand_post) {
        size_t i1 = brandset_pick(&cp->brands, r), i2;

        c.b1 = &cp->brands.v[i1];
        if (cp->brands.n > 1 && rng_chance(r, 0.15)) {
            do
                i2 = brandset_pick(&cp->brands, r);
            while (i2 == i1);
            c.b2 = &cp->brands.v[i2];
        }
        k = rng_below(r, 100);
        m = k < 35   ? MOOD_COMPLAINT
            : k < 60 ? MOOD_PRAISE
            : k < 75 ? MOOD_QUESTION
                     : MOOD_NEUTRAL;
    }
    is_long = rng_chance(r, 0.05);
    reply = rng_chance(r, 0.12);
    rt = !reply && rng_chance(r, 0.08);
    target = is_long ? 400 + rng_below(r, 560) : 100 + rng_below(r, 181);
    if (is_long)
        max = NOTE_MAX;

    sb_reset(&cp->text);
    sb_reset(&cp->full);
    if (reply || rt)
        user_make(cp->opts->seed, rng_below(r, NUSERS), &other);
    if (rt)
        sb_printf(&cp->full, "RT @%s: ", other.username);
    else if (reply)
        sb_printf(&cp->full, "@%s ", other.username);
    compose(r, &cp->text, &cp->tmp, &c, m, target, max - cp->full.n);
    sb_put(&cp->full, cp->text.p, cp->text.n);
    /* data.text: the whole post, or its first 275 bytes and an ellipsis. */
    sb_reset(&cp->text);
    if (cp->full.n > TEXT_MAX) {
        sb_put(&cp->text, cp->full.p, utf8_cut(cp->full.p, cp->full.n, 275));
        sb_puts(&cp->text, "\xe2\x80\xa6");
    } else {
        sb_put(&cp->text, cp->full.p, cp->full.n);
    }
    /* A post that opens in Japanese is tagged "ja", as X would. */
    ja = !reply && !rt && cp->full.n && (unsigned char)cp->full.p[0] >= 0xe3 &&
         (unsigned char)cp->full.p[0] <= 0xe9;
    if (cp->full.err || cp->text.err) {
        b->err = cp->full.err ? cp->full.err : cp->text.err;
        return;
    }

    sb_reset(b);
    snprintf(conv, sizeof(conv), "%s", id);
    if (reply)
        snprintf(
            conv, sizeof(conv), "%llu",
            (unsigned long long)(snow - 4096ull * (1 + rng_below(r, 100000))));
    sb_printf(b,
              "{\"data\":{\"author_id\":\"%s\",\"conversation_id\":\"%s\","
              "\"created_at\":\"%s\",\"edit_history_tweet_ids\":[",
              author.id, conv, created);
    if (rng_chance(r, 0.03))
        sb_printf(b, "\"%llu\",",
                  (unsigned long long)(snow - 4194304ull * 60000));
    sb_printf(b, "\"%s\"]", id);
    write_entities(b, cp->text.p, cp->text.n);
    sb_printf(b, ",\"id\":\"%s\"", id);
    if (reply)
        sb_printf(b, ",\"in_reply_to_user_id\":\"%s\"", other.id);
    sb_printf(b, ",\"lang\":\"%s\"",
              ja                    ? "ja"
              : rng_chance(r, 0.01) ? "und"
                                    : "en");
    if (cp->full.n > TEXT_MAX) {
        sb_puts(b, ",\"note_tweet\":{");
        sb_puts(b, "\"text\":");
        sb_json_str(b, cp->full.p, cp->full.n);
        write_entities(b, cp->full.p, cp->full.n);
        sb_putc(b, '}');
    }
    sb_printf(b,
              ",\"possibly_sensitive\":false,\"public_metrics\":{"
              "\"retweet_count\":%u,\"reply_count\":0,\"like_count\":%u,"
              "\"quote_count\":0,\"bookmark_count\":0,"
              "\"impression_count\":%u}",
              rt ? rng_below(r, 200) : 0, rng_below(r, 3), rng_below(r, 20));
    if (reply)
        sb_printf(b,
                  ",\"referenced_tweets\":[{\"type\":\"replied_to\","
                  "\"id\":\"%s\"}]",
                  conv);
    else if (rt)
        sb_printf(
            b,
            ",\"referenced_tweets\":[{\"type\":\"retweeted\","
            "\"id\":\"%llu\"}]",
            (unsigned long long)(snow - 4194304ull * rng_below(r, 90000)));
    sb_puts(b, ",\"text\":");
    sb_json_str(b, cp->text.p, cp->text.n);
    sb_puts(b, "},\"includes\":{\"users\":[");
    write_user(b, &author);
    if (reply || rt) {
        sb_putc(b, ',');
        write_user(b, &other);
    }
    sb_puts(b, "]},\"matching_rules\":[");
    if (c.b1) {
        sb_printf(b, "{\"id\":\"19004123456%08llu\",\"tag\":\"brand-%s\"}",
                  (unsigned long long)(c.b1 - cp->brands.v), c.b1->id);
        if (c.b2)
            sb_printf(b, ",{\"id\":\"19004123456%08llu\",\"tag\":\"brand-%s\"}",
                      (unsigned long long)(c.b2 - cp->brands.v), c.b2->id);
    } else {
        static const char *const topics[] = {
            "retail", "travel", "tech", "food", "finance", "lifestyle"
        };
        k = rng_below(r, (uint32_t)ARRAY_LEN(topics));
        sb_printf(b, "{\"id\":\"19004123457%08u\",\"tag\":\"topic-%s\"}", k,
                  topics[k]);
    }
    sb_puts(b, "]}\n");
}

void bm_gen_opts_default(struct bm_gen_opts *o)
{
    o->seed = 1;
    o->posts = BM_GEN_POSTS_DEFAULT;
    o->brands = BM_GEN_BRANDS_DEFAULT;
    o->rules = BM_GEN_RULES_DEFAULT;
}

int bm_gen_write_corpus(const char *path, const struct bm_gen_opts *o,
                        uint64_t *bytes)
{
    struct corpus cp = { .opts = o, .now_ms = CORPUS_START_MS };
    struct rng r;
    int err;

    err = brandset_build(&cp.brands, o->seed, o->brands);
    if (err)
        return err;
    cp.out = fopen(path, "wb");
    if (!cp.out) {
        err = -errno;
        goto out_free_brands;
    }
    setvbuf(cp.out, NULL, _IOFBF, 1u << 20);
    rng_seed(&r, o->seed, 0x504f535453000000ull);
    for (uint64_t n = 0; n < o->posts; n++) {
        write_post(&cp, &r, n);
        if (cp.line.err) {
            err = cp.line.err;
            goto out_close;
        }
        if (fwrite(cp.line.p, 1, cp.line.n, cp.out) != cp.line.n) {
            err = -errno ? -errno : -EIO;
            goto out_close;
        }
        cp.bytes += cp.line.n;
    }
out_close:
    if (fclose(cp.out) != 0 && !err)
        err = -errno;
    free(cp.line.p);
    free(cp.text.p);
    free(cp.full.p);
    free(cp.tmp.p);
out_free_brands:
    brandset_release(&cp.brands);
    if (!err && bytes)
        *bytes = cp.bytes;
    return err;
}

/* ---- rule packs ---- */

static const char pack_lists[] =
    "lists:\n"
    "  bench_complaint: [broken, \"refund*\", worst, \"never again\", scam,\n"
    "    \"stopped working\", useless, garbage, \"waste of money\",\n"
    "    unacceptable, \"on hold\", \"charged twice\", delayed, cancelled,\n"
    "    awful, terrible, fuming, \"downhill\"]\n"
    "  bench_praise: [love, loving, \"thank you\", thanks, \"shout out\",\n"
    "    kudos, amazing, impressed, \"best purchase\", \"well done\",\n"
    "    brilliant, great]\n"
    "  bench_joking: [jk, \"/s\", \"just kidding\", lol]\n"
    "  bench_outage: [down, outage, \"not loading\", \"nothing is loading\",\n"
    "    \"502*\", \"503*\", offline, \"status page\", \"error*\"]\n"
    "  bench_price: [expensive, overpriced, \"price*\", fee, fees,\n"
    "    \"too much\", \"rip off\", ripoff, \"cash grab\", cheaper]\n"
    "  bench_wish: [\"looking for\", \"need a\", \"want a\", \"would buy\",\n"
    "    \"take my money\", \"in the market for\", \"thinking of getting\"]\n"
    "  bench_switch: [\"switching from\", \"switching to\", \"switched to\",\n"
    "    \"moving to\", cancelling, \"cancelled my\"]\n"
    "  bench_delivery: [\"parcel*\", \"courier*\", delivery,\n"
    "    \"tracking number\", \"out for delivery\", \"missed delivery\"]\n"
    "  bench_subscription: [\"subscription*\", \"monthly plan*\",\n"
    "    \"auto-renew*\", \"free trial\"]\n"
    "  bench_travel: [\"flight*\", boarding, \"lost luggage\", \"layover*\",\n"
    "    \"gate change\", \"train*\", commute]\n"
    "  bench_statement: [reliable, \"friendly\", \"simple, fast\",\n"
    "    \"without any fuss\", \"just gets it\"]\n";

static void write_brand(struct sbuf *b, const struct brand *br,
                        const struct brandset *bs, size_t idx, size_t nbrands)
{
    char cat[16];

    lower_cat(cat, sizeof(cat), br);
    sb_printf(b, "  %s:\n    name: \"%s %s\"\n", br->id, br->name,
              br->cat->word);
    sb_printf(b,
              "    terms: [\"%s%s\", \"%s %s\", \"@%s\", \"@%shelp\", "
              "\"#%s\",\n      \"#%sdown\", \"%s app\", \"%s support\", "
              "\"%s%s\", \"#%s%s\"]\n",
              br->id, br->prefix ? "*" : "", br->id, cat, br->id, br->id,
              br->id, br->id, br->id, br->id, br->id, cat, br->id, cat);
    sb_puts(b, "    statement: $bench_statement\n");
    if (idx < 200 && (idx ^ 1) < nbrands)
        sb_printf(b, "    competitors: [%s]\n", bs->v[idx ^ 1].id);
}

/* The brand index of branded rule @k: the ten most named brands get four
 * rules each, the next ones one each. */
static size_t rule_brand(size_t k)
{
    return k < 40 ? k % 10 : 10 + (k - 40);
}

static void write_branded_rule(struct sbuf *b, size_t j, size_t k,
                               const struct brand *br, bool competitor)
{
    static const char *const shape_names[] = {
        "complaint", "influencer", "praise",  "purchase", "churn",
        "outage",    "competitor", "support", "price",    "question",
    };
    unsigned shape = (unsigned)(k % 10);

    if (shape == 6 && !competitor)
        shape = 9;
    sb_printf(b, "  - id: bench.%s.%s.%zu\n    brand: %s\n", br->id,
              shape_names[shape], j, br->id);
    switch (shape) {
    case 0:
        sb_puts(b, "    kind: defense\n    priority: high\n    when:\n"
                   "      all:\n        - terms: $bench_complaint\n"
                   "        - any:\n"
                   "            - sentiment: {below: -0.2}\n"
                   "            - terms: {any: $bench_complaint, "
                   "at_least: 2}\n"
                   "      none:\n        - terms: $bench_joking\n"
                   "    alert:\n      message: \"{author} ({followers} "
                   "followers) on {source}: {text}\"\n"
                   "      throttle: {per: author, window: 30m}\n");
        break;
    case 1:
        sb_puts(b, "    kind: defense\n    priority: critical\n    when:\n"
                   "      all:\n        - followers: {at_least: 10000}\n"
                   "        - sentiment: {below: -0.4}\n");
        break;
    case 2:
        sb_puts(b, "    kind: amplification\n    priority: medium\n"
                   "    when:\n      all:\n"
                   "        - sentiment: {above: 0.3}\n        - any:\n"
                   "            - terms: $bench_praise\n"
                   "            - statement: {at_least: 1}\n"
                   "      none:\n        - repost: true\n"
                   "    alert:\n      throttle: {per: author, window: 1d}\n");
        break;
    case 3:
        sb_puts(b, "    kind: insight\n    priority: low\n    when:\n"
                   "      any:\n        - intent: purchase\n"
                   "        - terms: $bench_wish\n");
        if (k % 40 == 3)
            sb_printf(b,
                      "        - regex: '\\b(do|does|will) (you|%s) "
                      "(make|sell|ship)\\b'\n",
                      br->id);
        break;
    case 4:
        sb_puts(b, "    kind: defense\n    priority: high\n    when:\n"
                   "      all:\n        - any:\n"
                   "            - intent: churn\n"
                   "            - terms: $bench_switch\n"
                   "        - sentiment: {below: 0.1}\n");
        break;
    case 5:
        sb_printf(b,
                  "    kind: defense\n    priority: critical\n    when:\n"
                  "      all:\n        - terms: $bench_outage\n"
                  "        - any:\n"
                  "            - terms: [\"#%sdown\", \"%s app\", "
                  "\"status page\"]\n"
                  "            - sentiment: {below: -0.1}\n",
                  br->id, br->id);
        break;
    case 6:
        sb_puts(b, "    kind: insight\n    priority: low\n    when:\n"
                   "      competitor: true\n"
                   "    alert:\n      throttle: {per: rule, window: 15m}\n");
        break;
    case 7:
        sb_puts(b, "    kind: insight\n    priority: medium\n    when:\n"
                   "      intent: support\n"
                   "      followers: {below: 100000}\n      lang: [en]\n");
        break;
    case 8:
        sb_puts(b, "    kind: defense\n    priority: medium\n    when:\n"
                   "      all:\n        - any:\n"
                   "            - terms: $bench_price\n");
        if (k % 40 == 8)
            sb_puts(b, "            - regex: '[$\xe2\x82\xac\xc2\xa3] ?\\d'\n");
        sb_puts(b, "      none:\n        - sentiment: {above: 0.3}\n");
        break;
    default:
        sb_puts(b, "    kind: insight\n    priority: low\n    when:\n"
                   "      all:\n        - intent: [question, recommendation]\n"
                   "      none:\n        - intent: complaint\n");
        break;
    }
}

static void write_open_rule(struct sbuf *b, size_t j, size_t u)
{
    sb_printf(b, "  - id: bench.open.%zu\n", j);
    switch (u % 5) {
    case 0:
        sb_printf(b,
                  "    kind: insight\n    priority: low\n    when:\n"
                  "      all:\n        - terms: $bench_delivery\n"
                  "        - sentiment: {below: %s}\n",
                  u < 5 ? "-0.3" : "-0.1");
        break;
    case 1:
        sb_printf(b,
                  "    kind: insight\n    priority: low\n    when:\n"
                  "      all:\n        - intent: recommendation\n"
                  "        - lang: [en]\n"
                  "        - followers: {at_least: %s}\n",
                  u < 5 ? "0" : "1000");
        break;
    case 2:
        sb_printf(b,
                  "    kind: defense\n    priority: high\n    when:\n"
                  "      all:\n        - followers: {at_least: %s}\n"
                  "        - sentiment: {below: -0.5}\n",
                  u < 5 ? "100000" : "50000");
        break;
    case 3:
        sb_printf(b,
                  "    kind: insight\n    priority: low\n    when:\n"
                  "      all:\n        - terms: {any: $bench_subscription, "
                  "at_least: 1}\n        - any:\n"
                  "            - terms: $bench_price\n"
                  "            - intent: churn\n%s",
                  u < 5 ? "" : "      none:\n        - reply: true\n");
        break;
    default:
        sb_puts(b, "    kind: insight\n    priority: medium\n    when:\n"
                   "      all:\n        - terms: $bench_travel\n"
                   "        - any:\n"
                   "            - terms: $bench_complaint\n");
        if (u < 5)
            sb_puts(b, "            - regex: '\\b(delayed|sat|waited) "
                       "(for |outside )?\\w* ?\\d+ (minutes|hours|days)\\b'\n");
        else
            sb_puts(b, "            - sentiment: {below: -0.3}\n");
        break;
    }
}

int bm_gen_write_pack(const char *path, const struct bm_gen_opts *o,
                      size_t nbrands)
{
    struct brandset bs;
    struct sbuf b = { 0 };
    size_t k = 0, u = 0;
    FILE *f;
    int err;

    if (nbrands == 0 || nbrands > o->brands)
        return -EINVAL;
    err = brandset_build(&bs, o->seed, o->brands);
    if (err)
        return err;
    sb_printf(&b,
              "# Generated by tests/bench/gen_corpus.c (seed %llu): %zu "
              "brands x %u terms, %zu rules.\nversion: 1\npack: bench\n"
              "description: replay benchmark pack\n",
              (unsigned long long)o->seed, nbrands, BM_GEN_TERMS_PER_BRAND,
              o->rules);
    sb_puts(&b, pack_lists);
    sb_puts(&b, "brands:\n");
    for (size_t i = 0; i < nbrands; i++)
        write_brand(&b, &bs.v[i], &bs, i, nbrands);
    sb_puts(&b, "rules:\n");
    for (size_t j = 0; j < o->rules; j++) {
        if (j % 20 == 19) {
            write_open_rule(&b, j, u++);
        } else {
            size_t bi = rule_brand(k) % nbrands;
            bool comp = bi < 200 && (bi ^ 1) < nbrands;

            write_branded_rule(&b, j, k++, &bs.v[bi], comp);
        }
    }
    brandset_release(&bs);
    if (b.err) {
        err = b.err;
        goto out_free_buf;
    }
    f = fopen(path, "wb");
    if (!f) {
        err = -errno;
        goto out_free_buf;
    }
    if (fwrite(b.p, 1, b.n, f) != b.n)
        err = -EIO;
    if (fclose(f) != 0 && !err)
        err = -errno;
out_free_buf:
    free(b.p);
    return err;
}
