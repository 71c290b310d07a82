// Every string the portal shows, Ukrainian first, then English; the two must have the same keys
// (build.mjs refuses to build otherwise).

export const STRINGS = {
  uk: {
    title: 'Петиції громади',
    loading: 'Завантаження…',
    none: 'Петицій поки немає.',
    signatures: (n, of) => `Підписів: ${n} з ${of}`,
    status: {
      1: 'На модерації', 2: 'Відхилена', 3: 'Збір підписів', 4: 'Набрала підписи',
      5: 'Не набрала підписів', 6: 'На розгляді', 7: 'Є відповідь', 0: '—',
    },
    closes: (date) => `Збір до ${date}`,
    category: 'Категорія',
    back: '← Усі петиції',
    signIn: 'Увійти, щоб підписати',
    signOut: 'Вийти',
    signedInAs: 'Ви увійшли',
    sign: 'Підписати петицію',
    signing: 'Підписуємо…',
    signed: (seq) => `Ваш підпис записано в журнал громади (подія № ${seq}).`,
    failed: (why) => `Не вдалося: ${why}`,
    notFound: 'Такої петиції немає.',
    answer: 'Відповідь ради',
    more: 'Показати ще',
    alreadySigned: 'Ви вже підписали цю петицію.',
  },
  en: {
    title: "Hromada's petitions",
    loading: 'Loading…',
    none: 'No petitions yet.',
    signatures: (n, of) => `Signatures: ${n} of ${of}`,
    status: {
      1: 'Awaiting moderation', 2: 'Rejected', 3: 'Collecting signatures', 4: 'Reached its threshold',
      5: 'Closed without enough signatures', 6: 'Under consideration', 7: 'Answered', 0: '—',
    },
    closes: (date) => `Collecting until ${date}`,
    category: 'Category',
    back: '← All petitions',
    signIn: 'Sign in to sign',
    signOut: 'Sign out',
    signedInAs: 'You are signed in',
    sign: 'Sign the petition',
    signing: 'Signing…',
    signed: (seq) => `Your signature is in the hromada's log (event no. ${seq}).`,
    failed: (why) => `It did not work: ${why}`,
    notFound: 'There is no such petition.',
    answer: "The council's answer",
    more: 'Show more',
    alreadySigned: 'You have signed this petition.',
  },
};

let language = globalThis.location && new URLSearchParams(globalThis.location.search).get('lang') === 'en' ? 'en' : 'uk';

export function lang() {
  return language;
}

export function t(key) {
  return STRINGS[language][key];
}
