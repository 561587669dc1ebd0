/** @fileoverview nn ops (to be filled). */
export {};
