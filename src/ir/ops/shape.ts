/** @fileoverview shape ops (to be filled). */
export {};
